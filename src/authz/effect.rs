//! Casbin's policy effects, as its default effector implements them, that also
//! tell which policy line decided.
//!
//! Casbin reports the deciding line only with its `explain` feature, which needs
//! its `logging` feature (slog, and a logging thread per enforcer). This effector
//! makes the same decisions and records the index of the deciding line for the
//! thread that asked: Casbin creates one stream per `enforce` call and uses it on
//! the calling thread, so [`take_deciding_index`] right after `enforce` returns
//! reads that call's answer.

use std::cell::Cell;

use casbin::{EffectKind, Effector, EffectorStream};

thread_local! {
    static DECIDING: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The index (in the `p` policy, in load order) of the line that decided the
/// last `enforce` on this thread, if a line did.
pub(crate) fn take_deciding_index() -> Option<usize> {
    DECIDING.with(Cell::take)
}

/// The effects Casbin implements, as written in the model after Casbin's
/// `p.eft` → `p_eft` rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `some(where (p.eft == allow)) && !some(where (p.eft == deny))`
    AllowAndNoDeny,
    /// `some(where (p.eft == allow))`
    SomeAllow,
    /// `!some(where (p.eft == deny))`
    NoDeny,
    /// `priority(p.eft) || deny`
    Priority,
}

impl Kind {
    fn parse(expr: &str) -> Option<Self> {
        Some(match expr {
            "some(where (p_eft == allow)) && !some(where (p_eft == deny))" => Self::AllowAndNoDeny,
            "some(where (p_eft == allow))" => Self::SomeAllow,
            "!some(where (p_eft == deny))" => Self::NoDeny,
            "priority(p_eft) || deny" => Self::Priority,
            _ => return None,
        })
    }
}

/// Whether Casbin's effector implements `expr` (as written in the model).
pub(crate) fn is_supported(expr: &str) -> bool {
    Kind::parse(&expr.replace("p.eft", "p_eft")).is_some()
}

#[derive(Default)]
pub(crate) struct RecordingEffector;

impl Effector for RecordingEffector {
    fn new_stream(&self, expr: &str, cap: usize) -> Box<dyn EffectorStream> {
        DECIDING.with(|d| d.set(None));
        // The loader only accepts supported effects; anything else denies.
        let kind = Kind::parse(expr);
        Box::new(RecordingStream {
            kind,
            done: false,
            res: matches!(kind, Some(Kind::NoDeny)),
            idx: 0,
            cap: cap.max(1),
            deciding: None,
        })
    }
}

struct RecordingStream {
    kind: Option<Kind>,
    done: bool,
    res: bool,
    idx: usize,
    cap: usize,
    deciding: Option<usize>,
}

impl EffectorStream for RecordingStream {
    fn next(&self) -> bool {
        DECIDING.with(|d| d.set(self.deciding));
        self.res
    }

    fn push_effect(&mut self, eft: EffectKind) -> bool {
        match (self.kind, eft) {
            (Some(Kind::SomeAllow), EffectKind::Allow) => {
                self.done = true;
                self.res = true;
                self.deciding = Some(self.idx);
            }
            (Some(Kind::AllowAndNoDeny), EffectKind::Allow) => {
                self.res = true;
                self.deciding.get_or_insert(self.idx);
            }
            (Some(Kind::AllowAndNoDeny | Kind::NoDeny), EffectKind::Deny) => {
                self.done = true;
                self.res = false;
                self.deciding = Some(self.idx);
            }
            (Some(Kind::Priority), EffectKind::Allow | EffectKind::Deny) => {
                self.done = true;
                self.res = eft == EffectKind::Allow;
                self.deciding = Some(self.idx);
            }
            (None, _) => {
                self.done = true;
                self.res = false;
            }
            _ => {}
        }
        if self.idx + 1 >= self.cap {
            self.done = true;
            self.idx = self.cap;
        } else {
            self.idx += 1;
        }
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(expr: &str, effects: &[EffectKind]) -> (bool, Option<usize>) {
        let mut stream = RecordingEffector.new_stream(expr, effects.len());
        for &e in effects {
            if stream.push_effect(e) {
                break;
            }
        }
        let res = stream.next();
        (res, take_deciding_index())
    }

    #[test]
    fn decisions_and_deciding_lines() {
        use EffectKind::{Allow as A, Deny as D, Indeterminate as I};
        let deny_wins = "some(where (p_eft == allow)) && !some(where (p_eft == deny))";
        assert_eq!(run(deny_wins, &[I, A, I, A]), (true, Some(1)));
        assert_eq!(run(deny_wins, &[I, A, D, A]), (false, Some(2)));
        assert_eq!(run(deny_wins, &[I, I]), (false, None));
        let some_allow = "some(where (p_eft == allow))";
        assert_eq!(run(some_allow, &[D, I, A]), (true, Some(2)));
        assert_eq!(run(some_allow, &[D]), (false, None));
        let no_deny = "!some(where (p_eft == deny))";
        assert_eq!(run(no_deny, &[A, I]), (true, None));
        assert_eq!(run(no_deny, &[A, D]), (false, Some(1)));
        let priority = "priority(p_eft) || deny";
        assert_eq!(run(priority, &[I, D, A]), (false, Some(1)));
        assert_eq!(run(priority, &[I, A, D]), (true, Some(1)));
        assert_eq!(run(priority, &[I]), (false, None));
        assert_eq!(run("something else", &[A]), (false, None));
        assert!(is_supported("some(where (p.eft == allow))"));
        assert!(!is_supported("some(where(p.eft == allow))"));
    }
}
