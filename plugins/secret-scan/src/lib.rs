//! secret-scan: find committed credentials.
pub mod scanner;
