use super::*;

fn ok(text: &str) -> Dockerfile {
    parse(text).unwrap_or_else(|e| panic!("should parse: {e}\n{text}"))
}

fn fail(text: &str) -> ParseError {
    match parse(text) {
        Ok(_) => panic!("should not parse:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn instructions_with_positions_and_case_insensitive_keywords() {
    let df = ok("FROM debian:12\n\n  run echo hi\nCMD [\"a\"]\n");
    let kw: Vec<Keyword> = df.instructions.iter().map(|i| i.keyword).collect();
    assert_eq!(kw, [Keyword::From, Keyword::Run, Keyword::Cmd]);
    let run = &df.instructions[1];
    assert_eq!((run.line, run.column, run.end_line), (3, 3, 3));
    assert_eq!(run.rest, "echo hi");
    assert_eq!(run.end_column, 14);
}

#[test]
fn directives_only_at_the_top() {
    let df = ok("# syntax=docker/dockerfile:1\n# escape=`\nFROM x:1\n# escape=\\\n");
    assert_eq!(df.escape, '`');
    assert_eq!(df.directives.len(), 2);
    assert_eq!(df.directives[0].name, "syntax");
    assert_eq!(df.directives[0].value, "docker/dockerfile:1");
    // After the first instruction `# escape=` is a plain comment.
    assert_eq!(df.comments.len(), 1);
    // A comment first ends the directives.
    let df = ok("# hello\n# escape=`\nFROM x:1\n");
    assert_eq!(df.escape, '\\');
    assert!(df.directives.is_empty());
}

#[test]
fn bad_directives_are_errors_with_position() {
    let e = fail("# escape=x\nFROM x:1\n");
    assert_eq!((e.line, e.column), (1, 10));
    assert!(e.message.contains("invalid escape character `x`"), "{e}");
    let e = fail("# syntax=a\n# syntax=b\nFROM x:1\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("given twice"), "{e}");
}

#[test]
fn continuations_join_and_drop_comments_and_blank_lines() {
    let df = ok(
        "FROM x:1\nRUN apt-get update && \\\n  # a comment inside\n\n  apt-get install -y curl \\\n  && echo done\nUSER app\n",
    );
    let run = &df.instructions[1];
    assert_eq!(
        run.rest,
        "apt-get update &&   apt-get install -y curl   && echo done"
    );
    assert_eq!((run.line, run.end_line), (2, 6));
    assert_eq!(df.instructions[2].line, 7);
    assert_eq!(df.comments[0].line, 3);
    assert_eq!(df.comments[0].text, "a comment inside");
}

#[test]
fn continuation_uses_the_escape_directive() {
    let df = ok(
        "# escape=`\nFROM mcr.microsoft.com/windows:ltsc2022\nRUN dir `\n  c:\\\nWORKDIR c:\\app\n",
    );
    assert_eq!(df.instructions[1].rest, "dir   c:\\");
    assert_eq!(df.instructions[2].keyword, Keyword::Workdir);
    assert_eq!(df.instructions[2].rest, "c:\\app");
}

#[test]
fn continuation_at_end_of_file() {
    let df = ok("FROM x:1\nRUN echo a \\");
    assert_eq!(df.instructions[1].rest, "echo a");
}

#[test]
fn heredocs() {
    let df = ok(
        "FROM x:1\nRUN <<EOF\napt-get update\nEOF\nCOPY <<-\"A\" <<'B' /dest/\n\t\tone $x\n\tA\ntwo\nB\nUSER app\n",
    );
    let run = &df.instructions[1];
    assert_eq!(run.heredocs.len(), 1);
    assert_eq!(run.heredocs[0].name, "EOF");
    assert_eq!(run.heredocs[0].body, "apt-get update\n");
    assert_eq!((run.heredocs[0].line, run.end_line), (3, 4));
    let copy = &df.instructions[2];
    assert_eq!(copy.heredocs.len(), 2);
    assert!(copy.heredocs[0].strip_tabs && copy.heredocs[0].quoted);
    assert_eq!(copy.heredocs[0].body, "one $x\n");
    assert!(!copy.heredocs[1].strip_tabs && copy.heredocs[1].quoted);
    assert_eq!(copy.heredocs[1].body, "two\n");
    assert_eq!(df.instructions[3].line, 10);
}

#[test]
fn here_strings_quoted_markers_and_exec_form_are_not_heredocs() {
    let df = ok(
        "FROM x:1\nRUN cat <<< hello\nRUN echo '<<EOF'\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\nRUN echo $((1<<2))\nUSER app\n",
    );
    assert!(df.instructions.iter().all(|i| i.heredocs.is_empty()));
    assert_eq!(df.instructions.len(), 6);
}

#[test]
fn unterminated_heredoc_is_an_error() {
    let e = fail("FROM x:1\nRUN <<EOF\necho hi\n");
    assert_eq!((e.line, e.column), (2, 1));
    assert!(
        e.message.contains("`<<EOF`") && e.message.contains("not terminated"),
        "{e}"
    );
}

#[test]
fn flags_are_parsed_and_checked() {
    let df = ok(
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nRUN --mount=type=cache,target=/root/.cache --network=none go build\nCOPY --from=build --chown=1000:1000 --link /out /bin/\n",
    );
    assert_eq!(
        df.instructions[0]
            .flag("platform")
            .and_then(|f| f.value.as_deref()),
        Some("$BUILDPLATFORM")
    );
    let run = &df.instructions[1];
    assert_eq!(
        run.flag_values("mount").collect::<Vec<_>>(),
        ["type=cache,target=/root/.cache"]
    );
    assert_eq!(run.rest, "go build");
    let copy = &df.instructions[2];
    assert_eq!(copy.flags.len(), 3);
    assert_eq!(copy.flag("link").map(|f| f.value.is_none()), Some(true));
    let e = fail("FROM x:1\nCOPY --form=build /a /b\n");
    assert_eq!((e.line, e.column), (2, 6));
    assert!(
        e.message.contains("unknown flag `--form`") && e.message.contains("--from"),
        "{e}"
    );
}

#[test]
fn exec_and_shell_forms() {
    assert_eq!(
        Args::parse("[\"a\", \"b c\"]"),
        Args::Exec(vec!["a".into(), "b c".into()])
    );
    assert_eq!(Args::parse("a b"), Args::Shell("a b".into()));
    // Invalid JSON falls back to shell form, as in Docker.
    assert_eq!(Args::parse("[a, b]"), Args::Shell("[a, b]".into()));
    let df = ok("FROM x:1\nCOPY [\"a b.txt\", \"/dest/\"]\n");
    assert_eq!(
        df.instructions[1].copy_paths(),
        Some((vec!["a b.txt".to_string()], "/dest/".to_string()))
    );
}

#[test]
fn from_and_image_references() {
    let df =
        ok("FROM --platform=linux/amd64 registry.example:5000/team/app:1.2@sha256:abc as Build\n");
    let f = parse_from(&df.instructions[0]).expect("from");
    assert_eq!(f.alias.as_deref(), Some("Build"));
    assert_eq!(f.platform.as_deref(), Some("linux/amd64"));
    let r = ImageRef::parse(&f.image);
    assert_eq!(r.registry.as_deref(), Some("registry.example:5000"));
    assert_eq!(r.name, "team/app");
    assert_eq!(r.tag.as_deref(), Some("1.2"));
    assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
    let r = ImageRef::parse("localhost/app");
    assert_eq!((r.registry.as_deref(), r.tag), (Some("localhost"), None));
    let r = ImageRef::parse("library/debian:12");
    assert_eq!((r.registry, r.name.as_str()), (None, "library/debian"));
    let df = ok("FROM a b c d\n");
    let e = parse_from(&df.instructions[0]).expect_err("bad FROM");
    assert!(e.message.contains("image[:tag] [AS name]"), "{e}");
}

#[test]
fn env_label_and_arg_pairs() {
    let df = ok(
        "FROM x:1\nENV A=1 B=\"two words\" C='$lit'\nENV LEGACY value with spaces\nLABEL \"com.example.key\"=\"v\" other=x\nARG NAME\nARG WITH=default\n",
    );
    let env = parse_pairs(&df.instructions[1], '\\').expect("env");
    let kv: Vec<(&str, &str)> = env
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(kv, [("A", "1"), ("B", "two words"), ("C", "$lit")]);
    let legacy = parse_pairs(&df.instructions[2], '\\').expect("legacy");
    assert_eq!(legacy[0].key, "LEGACY");
    assert_eq!(legacy[0].value.as_deref(), Some("value with spaces"));
    let label = parse_pairs(&df.instructions[3], '\\').expect("label");
    assert_eq!(label[0].key, "com.example.key");
    let arg = parse_pairs(&df.instructions[4], '\\').expect("arg");
    assert_eq!(arg[0].value, None);
    let arg = parse_pairs(&df.instructions[5], '\\').expect("arg");
    assert_eq!(arg[0].value.as_deref(), Some("default"));
    let df = ok("FROM x:1\nENV A=1 B\nENV C=\"open\n");
    let e = parse_pairs(&df.instructions[1], '\\').expect_err("mixed forms");
    assert!(e.message.contains("`B` is not `key=value`"), "{e}");
    let e = parse_pairs(&df.instructions[2], '\\').expect_err("unterminated quote");
    assert!(e.message.contains("unterminated"), "{e}");
}

#[test]
fn onbuild_wraps_an_instruction() {
    let df = ok("FROM x:1\nONBUILD RUN make\nONBUILD FROM y\n");
    let inner = df.instructions[1].onbuild.as_deref().expect("inner");
    assert_eq!(
        (inner.keyword, inner.rest.as_str(), inner.column),
        (Keyword::Run, "make", 9)
    );
    assert_eq!(
        df.instructions[2].onbuild.as_ref().map(|i| i.keyword),
        Some(Keyword::From)
    );
}

#[test]
fn unknown_instructions_and_missing_arguments_are_errors() {
    let e = fail("FROM x:1\n  FORM y\n");
    assert_eq!((e.line, e.column), (2, 3));
    assert!(e.message.contains("unknown instruction `FORM`"), "{e}");
    let e = fail("FROM x:1\nWORKDIR\n");
    assert_eq!((e.line, e.column), (2, 1));
    assert!(e.message.contains("WORKDIR needs arguments"), "{e}");
}

#[test]
fn crlf_line_endings() {
    let df = ok("FROM x:1\r\nRUN a \\\r\n  b\r\n");
    assert_eq!(df.instructions[1].rest, "a   b");
}

#[test]
fn normalized_text_ignores_layout() {
    let a = ok("FROM x:1\nRUN a   b \\\n   c\n");
    let b = ok("FROM x:1\n\n\nRUN a b c\n");
    assert_eq!(
        a.instructions[1].normalized(),
        b.instructions[1].normalized()
    );
}
