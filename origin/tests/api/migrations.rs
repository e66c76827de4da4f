use crate::helpers::fresh_database;

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_again_without_change() {
    let database = fresh_database().await;
    let pool = launch_edge_origin::db::pool(&database).unwrap();

    launch_edge_origin::db::migrate(&pool)
        .await
        .expect("first run applies");
    launch_edge_origin::db::migrate(&pool)
        .await
        .expect("second run is a no-op");

    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        applied as usize,
        launch_edge_origin::db::MIGRATOR.iter().count()
    );
    let launches: i64 = sqlx::query_scalar("SELECT count(*) FROM launches")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(launches, 0);
}

#[tokio::test]
async fn the_schema_refuses_a_malformed_slug() {
    let database = fresh_database().await;
    let pool = launch_edge_origin::db::pool(&database).unwrap();
    launch_edge_origin::db::migrate(&pool).await.unwrap();
    let result =
        sqlx::query("INSERT INTO launches (slug, name, launch_at) VALUES ('../etc', 'x', now())")
            .execute(&pool)
            .await;
    assert!(result.is_err());
}
