//! Integration tests, compiled as one binary.

mod act;
mod browser;
mod cli;
mod drift;
mod expectations;
mod okta;
mod sensor;
