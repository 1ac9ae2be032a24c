//! Secrets granted to the stage (`grants.secrets`, `grants.reveal`).
//!
//! ```no_run
//! # fn demo() -> Result<(), gantry_sdk::Error> {
//! let token = gantry_sdk::secrets::get("REGISTRY_TOKEN")?;
//! // Only with `grants.reveal = ["REGISTRY_TOKEN"]`; otherwise `Error::Denied`.
//! let value = token.reveal()?;
//! # let _ = value; Ok(())
//! # }
//! ```
//!
//! Prefer passing the handle to a host broker over revealing the value: what never
//! enters the sandbox cannot leak from it. Values that do are redacted from logs and
//! reports by the host.

use crate::Error;
use crate::bindings::gantry::plugin::secrets as wit;
use crate::bindings::gantry::plugin::types::CapError;

/// A handle to a granted secret.
pub struct Secret(wit::Secret);

impl Secret {
    pub fn name(&self) -> String {
        self.0.name()
    }

    /// The value, if the stage grants `reveal` for it.
    pub fn reveal(&self) -> Result<String, Error> {
        self.0.reveal().map_err(Error::from)
    }

    /// The underlying WIT resource, for brokers that take secret handles.
    pub fn handle(&self) -> &wit::Secret {
        &self.0
    }
}

/// A handle for secret `name`; `Error::Denied` unless the stage grants it.
pub fn get(name: &str) -> Result<Secret, Error> {
    wit::get(name).map(Secret).map_err(Error::from)
}

impl From<CapError> for Error {
    fn from(e: CapError) -> Error {
        match e {
            CapError::Denied(m) => Error::Denied(m),
            CapError::NotFound(m) | CapError::Invalid(m) | CapError::Failed(m) => Error::Failed(m),
        }
    }
}
