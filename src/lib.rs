//! crosscheck: a batch engine for data-comparison audits. Datasets are loaded once and
//! normalised, declarative rules are compiled to logical plans and run in parallel, and each
//! rule's leads are written with the evidence an inspection team needs.

pub mod calendar;
pub mod cli;
pub mod diff;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod intern;
pub mod job;
pub mod output;
pub mod plan;
pub mod samplecity;
