//! Failover timing tests. They run in their own test binary so that no other cluster
//! competes for the two cores while elections are timed.

#[path = "../harness/mod.rs"]
mod harness;

mod leader_stop;
