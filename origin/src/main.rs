use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    launch_edge_origin::telemetry::init();
    launch_edge_origin::cli::Cli::parse().run().await
}
