//! A rule expression compiled for evaluation: the series it reads become numbered *leaves*
//! (the latest value of a selector, a window function over it, an absence tracker), and the
//! tree refers to them by number, so the engine keeps one small state per leaf per series and
//! evaluates without looking anything up.

use crate::expr::{ArithOp, CmpOp, Expr, Func, LogicOp, Selector, Value};

/// The most leaves one rule may have: a leaf set is a `u32` bit mask in the engine.
pub const MAX_LEAVES: usize = 32;

/// What the engine keeps for one leaf of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LeafKind {
    /// The latest sample of the selector's series.
    Latest,
    /// A window function over the selector's samples.
    Window(Func, i64),
    /// Whether the series has had no sample for this long, ms (`absent(m[5m])`).
    Silent(i64),
    /// Whether any series matching the selector ever appeared (`absent(m)`).
    Appeared,
}

/// One leaf: which selector it reads and what it keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// Index into [`Program::selectors`].
    pub selector: usize,
    /// What is kept.
    pub kind: LeafKind,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Num(f64),
    Leaf(u8),
    Neg(Box<Node>),
    Arith(ArithOp, Box<Node>, Box<Node>),
    /// `threshold` marks the comparison whose number is the rule's threshold.
    Cmp {
        op: CmpOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        threshold: bool,
    },
    /// True when the leaf (a `Silent` or `Appeared` leaf) reads 1.
    Absent(u8),
    Logic(LogicOp, Box<Node>, Box<Node>),
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The distinct selectors, in order of first appearance.
    pub selectors: Vec<Selector>,
    /// The distinct leaves, in order of first appearance.
    pub leaves: Vec<Leaf>,
    root: Node,
    /// The top comparison's operator when the whole expression is one comparison with the
    /// threshold on its right: what `clear` (hysteresis) needs.
    top_threshold_op: Option<CmpOp>,
    /// The whole expression when it is one leaf compared with a number (most rules): evaluated
    /// without walking the tree, since it runs for every sample of every series it reads.
    simple: Option<Simple>,
}

/// `leaf OP number`, the number being the threshold when `threshold` is set.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Simple {
    leaf: u8,
    op: CmpOp,
    number: f64,
    threshold: bool,
}

/// A condition's outcome for one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cond {
    /// Not enough data to say (a missing series, an empty window, NaN): changes nothing.
    Unknown,
    /// Holds; the value is what `{{value}}` shows.
    True(f64),
    /// Does not hold.
    False(f64),
}

/// What the state machine needs from one evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The condition holds.
    pub breach: bool,
    /// A firing alert may resolve: beyond `clear` when it is set, else simply no breach.
    pub past_clear: bool,
    /// The value `{{value}}` shows.
    pub value: f64,
}

/// Why an expression cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// More distinct series references than a leaf mask holds.
    #[error("this expression reads {0} distinct series and windows; at most 32 are allowed")]
    TooManyLeaves(usize),
}

impl Program {
    /// Compiles a parsed expression.
    pub fn compile(expr: &Expr) -> Result<Program, CompileError> {
        let mut b = Builder {
            selectors: Vec::new(),
            leaves: Vec::new(),
            threshold_taken: false,
        };
        let root = b.cond(expr);
        if b.leaves.len() > MAX_LEAVES {
            return Err(CompileError::TooManyLeaves(b.leaves.len()));
        }
        let top_threshold_op = match &root {
            Node::Cmp {
                op,
                threshold: true,
                ..
            } => Some(*op),
            _ => None,
        };
        let simple = match &root {
            Node::Cmp {
                op,
                lhs,
                rhs,
                threshold,
            } => match (&**lhs, &**rhs) {
                (Node::Leaf(leaf), Node::Num(number)) => Some(Simple {
                    leaf: *leaf,
                    op: *op,
                    number: *number,
                    threshold: *threshold,
                }),
                _ => None,
            },
            _ => None,
        };
        Ok(Program {
            selectors: b.selectors,
            leaves: b.leaves,
            root,
            top_threshold_op,
            simple,
        })
    }

    /// Whether the whole expression is `absent(m{…})` without a range: one rule-level alert,
    /// not one per series.
    pub fn is_absent_once(&self) -> bool {
        matches!(self.root, Node::Absent(i) if self.leaves.get(usize::from(i)).is_some_and(|l| l.kind == LeafKind::Appeared))
    }

    /// Whether some leaf depends on time passing (`absent(m[d])`), so a timer must wake the
    /// series up.
    pub fn has_silence(&self) -> bool {
        self.leaves
            .iter()
            .any(|l| matches!(l.kind, LeafKind::Silent(_)))
    }

    /// The operator of the comparison `clear` would apply to, if the expression allows one.
    pub fn hysteresis_op(&self) -> Option<CmpOp> {
        self.top_threshold_op
    }

    /// Evaluates the condition. `leaf(i)` gives leaf `i`'s current value (`None` when missing;
    /// 1 or 0 for absence leaves); `threshold` replaces the threshold comparison's number.
    #[inline]
    pub fn eval(
        &self,
        threshold: Option<f64>,
        leaf: &mut impl FnMut(usize) -> Option<f64>,
    ) -> Cond {
        match self.simple {
            Some(s) => {
                let Some(l) = leaf(usize::from(s.leaf)).filter(|v| !v.is_nan()) else {
                    return Cond::Unknown;
                };
                let r = match (s.threshold, threshold) {
                    (true, Some(t)) => t,
                    _ if s.number.is_nan() => return Cond::Unknown,
                    _ => s.number,
                };
                if s.op.holds(l, r) {
                    Cond::True(l)
                } else {
                    Cond::False(l)
                }
            }
            None => cond(&self.root, threshold, leaf),
        }
    }

    /// Evaluates and applies hysteresis: the verdict for the state machine, `None` when the
    /// condition cannot be decided.
    #[inline]
    pub fn verdict(
        &self,
        threshold: Option<f64>,
        clear: Option<f64>,
        leaf: &mut impl FnMut(usize) -> Option<f64>,
    ) -> Option<Verdict> {
        let (breach, value) = match self.eval(threshold, leaf) {
            Cond::Unknown => return None,
            Cond::True(v) => (true, v),
            Cond::False(v) => (false, v),
        };
        let past_clear = match (clear, self.top_threshold_op) {
            (Some(c), Some(CmpOp::Gt | CmpOp::Ge)) => value < c,
            (Some(c), Some(CmpOp::Lt | CmpOp::Le)) => value > c,
            // The loader refuses `clear` elsewhere; without it, the alert resolves as soon as
            // the breach ends.
            _ => !breach,
        };
        Some(Verdict {
            breach,
            past_clear,
            value,
        })
    }
}

struct Builder {
    selectors: Vec<Selector>,
    leaves: Vec<Leaf>,
    threshold_taken: bool,
}

impl Builder {
    fn leaf(&mut self, selector: &Selector, kind: LeafKind) -> u8 {
        let s = match self.selectors.iter().position(|x| x == selector) {
            Some(i) => i,
            None => {
                self.selectors.push(selector.clone());
                self.selectors.len() - 1
            }
        };
        let leaf = Leaf { selector: s, kind };
        let i = match self.leaves.iter().position(|l| *l == leaf) {
            Some(i) => i,
            None => {
                self.leaves.push(leaf);
                self.leaves.len() - 1
            }
        };
        // Past MAX_LEAVES the compile fails anyway; saturate rather than wrap meanwhile.
        u8::try_from(i).unwrap_or(u8::MAX)
    }

    fn cond(&mut self, e: &Expr) -> Node {
        match e {
            Expr::Compare { lhs, op, rhs } => {
                let threshold = !self.threshold_taken && matches!(rhs, Value::Number(_));
                self.threshold_taken |= threshold;
                Node::Cmp {
                    op: *op,
                    lhs: Box::new(self.value(lhs)),
                    rhs: Box::new(self.value(rhs)),
                    threshold,
                }
            }
            Expr::Absent { selector, range_ms } => {
                let kind = match range_ms {
                    Some(r) => LeafKind::Silent(*r),
                    None => LeafKind::Appeared,
                };
                Node::Absent(self.leaf(selector, kind))
            }
            Expr::Logic { op, lhs, rhs } => {
                let l = self.cond(lhs);
                let r = self.cond(rhs);
                Node::Logic(*op, Box::new(l), Box::new(r))
            }
        }
    }

    fn value(&mut self, v: &Value) -> Node {
        match v {
            Value::Number(n) => Node::Num(*n),
            Value::Series(s) => Node::Leaf(self.leaf(s, LeafKind::Latest)),
            Value::Func {
                func,
                selector,
                range_ms,
            } => Node::Leaf(self.leaf(selector, LeafKind::Window(*func, *range_ms))),
            Value::Neg(v) => Node::Neg(Box::new(self.value(v))),
            Value::Arith { op, lhs, rhs } => {
                let l = self.value(lhs);
                let r = self.value(rhs);
                Node::Arith(*op, Box::new(l), Box::new(r))
            }
        }
    }
}

fn num(n: &Node, leaf: &mut impl FnMut(usize) -> Option<f64>) -> Option<f64> {
    let v = match n {
        Node::Num(v) => *v,
        Node::Leaf(i) => leaf(usize::from(*i))?,
        Node::Neg(v) => -num(v, leaf)?,
        Node::Arith(op, l, r) => {
            let a = num(l, leaf)?;
            op.apply(a, num(r, leaf)?)
        }
        // Conditions are never numbers: the parser refuses that.
        Node::Cmp { .. } | Node::Absent(_) | Node::Logic(..) => return None,
    };
    (!v.is_nan()).then_some(v)
}

fn cond(n: &Node, threshold: Option<f64>, leaf: &mut impl FnMut(usize) -> Option<f64>) -> Cond {
    match n {
        Node::Cmp {
            op,
            lhs,
            rhs,
            threshold: is_threshold,
        } => {
            let Some(l) = num(lhs, leaf) else {
                return Cond::Unknown;
            };
            let r = match (is_threshold, threshold) {
                (true, Some(t)) => t,
                _ => match num(rhs, leaf) {
                    Some(r) => r,
                    None => return Cond::Unknown,
                },
            };
            if op.holds(l, r) {
                Cond::True(l)
            } else {
                Cond::False(l)
            }
        }
        Node::Absent(i) => match leaf(usize::from(*i)) {
            Some(v) if v != 0.0 => Cond::True(1.0),
            Some(_) => Cond::False(0.0),
            None => Cond::Unknown,
        },
        Node::Logic(op, l, r) => {
            let a = cond(l, threshold, leaf);
            let b = cond(r, threshold, leaf);
            logic(*op, a, b)
        }
        Node::Num(_) | Node::Leaf(_) | Node::Neg(_) | Node::Arith(..) => Cond::Unknown,
    }
}

/// `and`, `or`, `unless` over three-valued outcomes. A side without data neither makes `and`
/// hold nor `or` fail: like PromQL's set operators, a missing series contributes nothing.
fn logic(op: LogicOp, a: Cond, b: Cond) -> Cond {
    use Cond::{False, True, Unknown};
    match op {
        LogicOp::And => match (a, b) {
            (False(v), _) | (True(v), False(_)) | (Unknown, False(v)) => False(v),
            (True(v), True(_)) => True(v),
            _ => Unknown,
        },
        LogicOp::Or => match (a, b) {
            (True(v), _) | (_, True(v)) => True(v),
            (Unknown, Unknown) => Unknown,
            (False(v), _) | (Unknown, False(v)) => False(v),
        },
        LogicOp::Unless => match (a, b) {
            (Unknown, _) => Unknown,
            (False(v), _) => False(v),
            (True(v), True(_)) => False(v),
            (True(v), _) => True(v),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse;

    fn program(src: &str) -> Program {
        Program::compile(&parse(src).unwrap()).unwrap()
    }

    fn eval(src: &str, leaves: &[Option<f64>]) -> Cond {
        program(src).eval(None, &mut |i| leaves[i])
    }

    #[test]
    fn leaves_are_shared_and_numbered_in_order() {
        let p = program("m > 90 and avg_over_time(m[5m]) > 80 and m < 100 or absent(n[1m])");
        let kinds: Vec<_> = p.leaves.iter().map(|l| (l.selector, l.kind)).collect();
        assert_eq!(
            kinds,
            [
                (0, LeafKind::Latest),
                (0, LeafKind::Window(Func::AvgOverTime, 300_000)),
                (1, LeafKind::Silent(60_000)),
            ]
        );
        assert!(p.has_silence() && !p.is_absent_once());
        assert!(program("absent(m{a=\"b\"})").is_absent_once());
        assert_eq!(program("m > 1").hysteresis_op(), Some(CmpOp::Gt));
        assert_eq!(program("m > n").hysteresis_op(), None);
        assert_eq!(program("m > 1 and n > 1").hysteresis_op(), None);
    }

    #[test]
    fn arithmetic_between_metrics_of_a_series() {
        let src = "disk_used_bytes / disk_total_bytes > 0.9";
        assert_eq!(eval(src, &[Some(95.0), Some(100.0)]), Cond::True(0.95));
        assert_eq!(eval(src, &[Some(50.0), Some(100.0)]), Cond::False(0.5));
        // One metric not seen yet: nothing can be said.
        assert_eq!(eval(src, &[Some(95.0), None]), Cond::Unknown);
        // 0 / 0 is NaN: unknown, like a NaN sample.
        assert_eq!(eval(src, &[Some(0.0), Some(0.0)]), Cond::Unknown);
        assert_eq!(eval("m * 100 - 5 > 90", &[Some(0.96)]), Cond::True(91.0));
        assert_eq!(eval("-m % 3 < 0", &[Some(7.0)]), Cond::True(-1.0));
    }

    #[test]
    fn and_or_unless_with_missing_sides() {
        use Cond::*;
        let t = Some(1.0);
        let f = Some(0.0);
        // a > 0.5 and b > 0.5
        let and = "a > 0.5 and b > 0.5";
        assert_eq!(eval(and, &[t, t]), True(1.0));
        assert_eq!(eval(and, &[t, f]), False(1.0));
        assert_eq!(eval(and, &[f, None]), False(0.0));
        assert_eq!(eval(and, &[t, None]), Unknown);
        assert_eq!(eval(and, &[None, f]), False(0.0));
        let or = "a > 0.5 or b > 0.5";
        assert_eq!(eval(or, &[f, t]), True(1.0));
        assert_eq!(eval(or, &[f, None]), False(0.0));
        assert_eq!(eval(or, &[None, None]), Unknown);
        assert_eq!(eval(or, &[None, t]), True(1.0));
        let unless = "a > 0.5 unless b > 0.5";
        assert_eq!(eval(unless, &[t, f]), True(1.0));
        assert_eq!(eval(unless, &[t, None]), True(1.0));
        assert_eq!(eval(unless, &[t, t]), False(1.0));
        assert_eq!(eval(unless, &[None, f]), Unknown);
    }

    #[test]
    fn threshold_and_clear_apply_to_the_threshold_comparison() {
        let p = program("m > 90");
        let v = |p: &Program, t, c, x| p.verdict(t, c, &mut |_| Some(x));
        assert_eq!(
            v(&p, Some(97.0), None, 95.0),
            Some(Verdict {
                breach: false,
                past_clear: true,
                value: 95.0
            })
        );
        let firm = v(&p, None, Some(85.0), 88.0).unwrap();
        assert!(
            !firm.breach && !firm.past_clear,
            "between clear and threshold"
        );
        assert!(v(&p, None, Some(85.0), 84.0).unwrap().past_clear);
        let below = program("free_percent < 10");
        assert!(!v(&below, None, Some(15.0), 12.0).unwrap().past_clear);
        assert!(v(&below, None, Some(15.0), 15.5).unwrap().past_clear);
        // Only the first comparison with a number is the threshold.
        let two = program("m > 90 and n > 5");
        assert_eq!(
            two.eval(Some(50.0), &mut |i| [Some(60.0), Some(6.0)][i]),
            Cond::True(60.0)
        );
    }

    #[test]
    fn one_comparison_is_evaluated_as_the_tree_would() {
        for src in [
            "m > 90",
            "m >= 90",
            "m < 1",
            "m <= 1",
            "m == 5",
            "m != 5",
            "avg_over_time(m[5m]) > 80",
        ] {
            let p = program(src);
            assert!(p.simple.is_some(), "{src} takes the short path");
            for value in [
                None,
                Some(f64::NAN),
                Some(0.0),
                Some(1.0),
                Some(5.0),
                Some(95.0),
            ] {
                for threshold in [None, Some(0.5), Some(99.0), Some(f64::NAN)] {
                    let short = p.eval(threshold, &mut |_| value);
                    let tree = cond(&p.root, threshold, &mut |_| value);
                    assert_eq!(
                        format!("{short:?}"),
                        format!("{tree:?}"),
                        "{src} with {value:?}, threshold {threshold:?}"
                    );
                }
            }
        }
        assert!(program("m > n").simple.is_none());
        assert!(program("m * 2 > 1").simple.is_none());
        assert!(program("m > 1 and m < 5").simple.is_none());
    }

    #[test]
    fn absence_leaves_read_one_or_zero() {
        assert_eq!(eval("absent(m[5m])", &[Some(1.0)]), Cond::True(1.0));
        assert_eq!(eval("absent(m[5m])", &[Some(0.0)]), Cond::False(0.0));
        assert_eq!(
            eval("absent(m[5m]) or m == 0", &[Some(0.0), Some(0.0)]),
            Cond::True(0.0)
        );
    }
}
