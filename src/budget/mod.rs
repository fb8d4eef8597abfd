//! Pricing, the per-user ledger and the monthly budget.

pub mod pricing;

pub use pricing::Pricing;
