//! Faults armed in this isolate by the test hooks (`POST /admin/test/shard-faults`, which
//! exists only when `TEST_HOOKS = "enabled"`): the next batch calls to a counter shard
//! fail before reaching it, or reach it and lose their answer. Always unarmed in
//! production.

use std::cell::Cell;

thread_local! {
    static FAIL: Cell<u32> = const { Cell::new(0) };
    static LOSE_ANSWER: Cell<u32> = const { Cell::new(0) };
}

/// A fault to inject into one shard call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardFault {
    /// The call fails before the shard sees it.
    Fail,
    /// The shard applies the call, its answer is lost.
    LoseAnswer,
}

/// The fault for the next shard call, if one is armed (always `None` in production:
/// only the guarded route arms them).
pub fn take() -> Option<ShardFault> {
    let take = |cell: &'static std::thread::LocalKey<Cell<u32>>| {
        cell.with(|c| {
            let n = c.get();
            (n > 0).then(|| c.set(n - 1)).is_some()
        })
    };
    if take(&FAIL) {
        Some(ShardFault::Fail)
    } else if take(&LOSE_ANSWER) {
        Some(ShardFault::LoseAnswer)
    } else {
        None
    }
}

/// Arms the next `fail` calls to fail, then the next `lose_answer` to lose their answer.
pub fn arm(fail: u32, lose_answer: u32) {
    FAIL.with(|c| c.set(fail));
    LOSE_ANSWER.with(|c| c.set(lose_answer));
}

/// What is still armed: `(fail, lose_answer)`.
pub fn armed() -> (u32, u32) {
    (FAIL.with(Cell::get), LOSE_ANSWER.with(Cell::get))
}
