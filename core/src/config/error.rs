//! Why a setting was refused: the one error of configuration parsing, named by setting.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {0} is missing")]
    Missing(&'static str),
    #[error("setting {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}
