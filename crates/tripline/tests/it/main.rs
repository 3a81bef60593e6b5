//! Integration tests, compiled as one binary.

mod cli;
mod drift;
mod expectations;
mod okta;
mod sensor;
