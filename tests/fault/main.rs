//! Tessera's own Jepsen: fault scenarios against a cluster of real processes, with a
//! linearizability checker over the recorded history. Own test binary; the scenarios
//! run one at a time. Needs root (network namespaces) and `ip` from iproute2.

#[path = "../harness/mod.rs"]
mod harness;

#[path = "../multiprocess/cluster.rs"]
mod cluster;

mod checker;
mod queue;
mod reshape;
mod scenarios;
mod workload;

use scenarios::{run, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_01_leader_partitioned_from_followers() {
    run(Scenario::LeaderPartition).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_02_bisect_and_majorities_ring() {
    run(Scenario::Bisect).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_03_leader_paused_past_election_timeout() {
    run(Scenario::Pause).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_04_kill_random_node_and_leader_in_a_loop() {
    run(Scenario::KillLoop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_05_kill_every_process_at_once() {
    run(Scenario::KillAll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_06_island_leader_alone_with_meta() {
    run(Scenario::Island).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_07_replacement_and_decommission_churn() {
    run(Scenario::Churn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_08_follower_down_past_log_purge() {
    run(Scenario::FollowerPurge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_09_meta_leader_killed_and_paused_during_table_changes() {
    run(Scenario::MetaChurn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_10_delay_and_loss_on_every_link_to_the_nodes() {
    run(Scenario::Slow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_11_malformed_requests_during_partitions() {
    run(Scenario::Garbage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_12_splits_and_merges_under_partitions_pauses_and_kills() {
    run(Scenario::Reshape).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_13_splits_and_merges_during_leader_shuffles_and_replica_moves() {
    run(Scenario::ReshapeShuffle).await;
}
