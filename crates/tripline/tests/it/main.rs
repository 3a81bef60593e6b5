//! Integration tests, compiled as one binary.

mod cli;
mod expectations;
mod okta;
mod sensor;
