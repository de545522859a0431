//! RE2's dialect on top of `regex-syntax`, so that a pattern means here what it means to Envoy.
//!
//! The two dialects agree on nearly everything; where they differ we either rewrite the pattern
//! into RE2's meaning or refuse it (never accept it with another meaning):
//! - `\d`, `\w`, `\s` and `\b` are ASCII in RE2 (`\s` is `[\t\n\f\r ]`, without `\v`), Unicode-aware
//!   in `regex-syntax`: they are rewritten into their ASCII forms. This also keeps the large
//!   Unicode Perl tables out of the module.
//! - Extensions RE2 does not have are refused: class set operations (`[a&&b]`, `--`, `~~`),
//!   nested classes, `\b{start}`-style and `\<`/`\>` boundaries, and the `u`, `x` and `R` flags.
//! - RE2's `\pN`, `\p{Greek}`, `\p{Lu}`, POSIX classes, `(?i)` (Unicode simple case folding),
//!   `(?s)`, `(?m)`, `(?U)`, named groups and counted repetition are accepted as they are.

use regex_syntax::ast::{
    self, AssertionKind, Ast, ClassAscii, ClassAsciiKind, ClassBracketed, ClassPerl, ClassPerlKind,
    ClassSet, ClassSetItem, ClassSetUnion, Flag, Flags, FlagsItem, FlagsItemKind, Group, GroupKind,
    Literal, LiteralKind,
};
use regex_syntax::hir::{self, Hir};

/// Parses `pattern` as RE2 would read it, into the high-level form the compiler takes.
pub fn parse(pattern: &str) -> Result<Hir, String> {
    let mut ast = ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| at(e.kind(), e.span()))?;
    to_re2(&mut ast)?;
    hir::translate::Translator::new()
        .translate(pattern, &ast)
        .map_err(|e| at(e.kind(), e.span()))
}

/// The parser's reason and where in the pattern, without the pattern drawn over several lines
/// (a refusal is one log line, and the pattern may hold any character).
fn at(reason: &impl std::fmt::Display, span: &ast::Span) -> String {
    format!(
        "{reason} (at bytes {}..{} of the pattern)",
        span.start.offset, span.end.offset
    )
}

fn not_re2(what: &str) -> String {
    format!("{what} is not RE2 syntax (Envoy's regex engine)")
}

fn to_re2(ast: &mut Ast) -> Result<(), String> {
    match ast {
        Ast::Empty(_) | Ast::Literal(_) | Ast::Dot(_) | Ast::ClassUnicode(_) => Ok(()),
        Ast::Flags(set) => check_flags(&set.flags),
        Ast::Assertion(assertion) => match assertion.kind {
            AssertionKind::StartLine
            | AssertionKind::EndLine
            | AssertionKind::StartText
            | AssertionKind::EndText => Ok(()),
            AssertionKind::WordBoundary | AssertionKind::NotWordBoundary => {
                let ascii = ascii_only(Ast::Assertion(assertion.clone()));
                *ast = ascii;
                Ok(())
            }
            _ => Err(not_re2("this word boundary form")),
        },
        Ast::ClassPerl(perl) => {
            let bracketed = Ast::ClassBracketed(Box::new(ClassBracketed {
                span: perl.span,
                negated: perl.negated,
                kind: ClassSet::Item(ascii_perl(perl)),
            }));
            *ast = bracketed;
            Ok(())
        }
        Ast::ClassBracketed(class) => class_set(&mut class.kind),
        Ast::Repetition(repetition) => to_re2(&mut repetition.ast),
        Ast::Group(group) => {
            if let GroupKind::NonCapturing(flags) = &group.kind {
                check_flags(flags)?;
            }
            to_re2(&mut group.ast)
        }
        Ast::Alternation(alternation) => alternation.asts.iter_mut().try_for_each(to_re2),
        Ast::Concat(concat) => concat.asts.iter_mut().try_for_each(to_re2),
    }
}

fn check_flags(flags: &Flags) -> Result<(), String> {
    flags.items.iter().try_for_each(|item| match item.kind {
        FlagsItemKind::Flag(Flag::Unicode) => Err(not_re2("the flag u")),
        FlagsItemKind::Flag(Flag::IgnoreWhitespace) => Err(not_re2("the flag x")),
        FlagsItemKind::Flag(Flag::CRLF) => Err(not_re2("the flag R")),
        _ => Ok(()),
    })
}

fn class_set(set: &mut ClassSet) -> Result<(), String> {
    match set {
        ClassSet::Item(item) => class_item(item),
        ClassSet::BinaryOp(_) => Err(not_re2("a class operation (&&, --, ~~)")),
    }
}

fn class_item(item: &mut ClassSetItem) -> Result<(), String> {
    match item {
        ClassSetItem::Empty(_)
        | ClassSetItem::Literal(_)
        | ClassSetItem::Range(_)
        | ClassSetItem::Ascii(_)
        | ClassSetItem::Unicode(_) => Ok(()),
        ClassSetItem::Perl(perl) => {
            let ascii = ascii_perl(perl);
            *item = if perl.negated {
                ClassSetItem::Bracketed(Box::new(ClassBracketed {
                    span: perl.span,
                    negated: true,
                    kind: ClassSet::Item(ascii),
                }))
            } else {
                ascii
            };
            Ok(())
        }
        ClassSetItem::Bracketed(_) => Err(not_re2("a class nested in a class")),
        ClassSetItem::Union(union) => union.items.iter_mut().try_for_each(class_item),
    }
}

/// RE2's `\d`, `\w`, `\s` (not negated): ASCII digits, `[0-9A-Za-z_]`, and `[\t\n\f\r ]`.
fn ascii_perl(perl: &ClassPerl) -> ClassSetItem {
    let span = perl.span;
    let ascii = |kind| {
        ClassSetItem::Ascii(ClassAscii {
            span,
            kind,
            negated: false,
        })
    };
    match perl.kind {
        ClassPerlKind::Digit => ascii(ClassAsciiKind::Digit),
        ClassPerlKind::Word => ascii(ClassAsciiKind::Word),
        ClassPerlKind::Space => ClassSetItem::Union(ClassSetUnion {
            span,
            items: ['\t', '\n', '\x0c', '\r', ' ']
                .into_iter()
                .map(|c| {
                    ClassSetItem::Literal(Literal {
                        span,
                        kind: LiteralKind::Verbatim,
                        c,
                    })
                })
                .collect(),
        }),
    }
}

/// `(?-u:…)`: a word boundary on ASCII word characters, as RE2's `\b` and `\B`.
fn ascii_only(inner: Ast) -> Ast {
    let span = *inner.span();
    let item = |kind| FlagsItem { span, kind };
    Ast::Group(Box::new(Group {
        span,
        kind: GroupKind::NonCapturing(Flags {
            span,
            items: vec![
                item(FlagsItemKind::Negation),
                item(FlagsItemKind::Flag(Flag::Unicode)),
            ],
        }),
        ast: Box::new(inner),
    }))
}
