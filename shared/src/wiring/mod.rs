//! The composition roots: the handlers' [`crate::handlers::Deps`] on the AWS adapters (a Lambda
//! function's `main`, the moto tests) and on the embedded stores (`migrate`), side by side.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "embedded")]
pub mod local;
