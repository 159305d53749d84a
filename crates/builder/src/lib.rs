//! Dockerfiles for berth. [`parse-dockerfile`] reads the instructions and gives their raw
//! argument text; [`lex`] does what Docker's shell lexer does with it (quotes, escapes,
//! `$VAR`, `${VAR:-default}`, `${VAR:+alt}`); [`changes`] applies the instructions a commit
//! may carry (`docker commit --change`) to a container config.

pub mod build;
pub mod changes;
mod context;
pub mod lex;
mod steps;

pub use build::{
    build, Backend, BuildError, BuildOptions, Commit, Event, ImageInfo, Output, StepNumbering,
};
pub use changes::apply_changes;
pub use context::drop_ignored_build_files;
pub use lex::{LexError, Lexer};
