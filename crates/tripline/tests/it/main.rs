//! Integration tests, compiled as one binary.

mod act;
mod anomaly;
mod browser;
mod cli;
mod drift;
mod expectations;
mod identity;
mod okta;
mod sensor;
