//! Pricing, the per-user ledger and the monthly budget.
