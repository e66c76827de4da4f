//! The dead-letter routes every draining object (a counter shard, a webhook inbox)
//! answers, and their typed client: [`DEAD_LETTERS_PATH`] lists the batches the origin
//! refused (set aside by [`crate::objects::drain`]), [`REQUEUE_PATH`] puts one back into
//! the object's drain. Each object's own client names its holders
//! (`ShardClient::dead_letters`, `InboxClient::dead_letters`).

use worker::{Env, Method};

use crate::error::AppError;

/// The route of every draining object that lists the batches it set aside.
pub const DEAD_LETTERS_PATH: &str = "/dead-letters";
/// The route that puts one back into its drain (`{"batch_id": ..}`).
pub const REQUEUE_PATH: &str = "/dead-letters/requeue";

/// The body of a requeue call.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct RequeueBody {
    pub batch_id: String,
}

/// A draining object (a counter shard or a webhook inbox), as the dead-letter routes
/// see it: the typed client of [`DEAD_LETTERS_PATH`] and [`REQUEUE_PATH`].
pub struct DeadLetterHolder {
    binding: &'static str,
    header: &'static str,
    name: String,
}

impl DeadLetterHolder {
    /// The object `name` of namespace `binding`, which it identifies by `header`.
    pub fn new(binding: &'static str, header: &'static str, name: String) -> Self {
        Self {
            binding,
            header,
            name,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    async fn send(
        &self,
        env: &Env,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<worker::Response, AppError> {
        let stub = crate::objects::stub(env, self.binding, &self.name)?;
        let headers = [(self.header, self.name.as_str())];
        crate::objects::call(&stub, method, path, &headers, body).await
    }

    /// The batches this object set aside, as JSON rows.
    pub async fn list(&self, env: &Env) -> Result<Vec<serde_json::Value>, AppError> {
        let mut response = self.send(env, Method::Get, DEAD_LETTERS_PATH, None).await?;
        match response.status_code() {
            200 => Ok(response.json().await?),
            status => Err(AppError::Internal(format!("status {status}"))),
        }
    }

    /// Puts set-aside batch `batch_id` back into the object's drain: its answer, or
    /// `DeadLetterNotFound`.
    pub async fn requeue(&self, env: &Env, batch_id: &str) -> Result<serde_json::Value, AppError> {
        let body = serde_json::to_string(&RequeueBody {
            batch_id: batch_id.to_owned(),
        })?;
        let mut response = self
            .send(env, Method::Post, REQUEUE_PATH, Some(body))
            .await?;
        match response.status_code() {
            200 => Ok(response.json().await?),
            404 => Err(AppError::DeadLetterNotFound),
            status => Err(AppError::Internal(format!(
                "{} answered {status}",
                self.name
            ))),
        }
    }
}
