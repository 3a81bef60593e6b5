//! Integration tests, compiled as one binary.

mod act;
mod cli;
mod drift;
mod expectations;
mod okta;
mod sensor;
