//! A Dockerfile as the legacy builder runs it: its stages, and each instruction with the text
//! Docker shows for it (`Step 3/8 : RUN make`), taken from the file as written, continuation
//! lines joined.

use parse_dockerfile::Instruction;

use crate::BuildError;

/// Where an instruction starts in the file: its keyword (the parser's enum is open; an
/// instruction it may add later has no keyword field this crate knows, so it starts where
/// the one before ended, at the latest).
pub(crate) fn start(i: &Instruction<'_>) -> Option<usize> {
    Some(match i {
        Instruction::Add(x) => x.add.span.start,
        Instruction::Arg(x) => x.arg.span.start,
        Instruction::Cmd(x) => x.cmd.span.start,
        Instruction::Copy(x) => x.copy.span.start,
        Instruction::Entrypoint(x) => x.entrypoint.span.start,
        Instruction::Env(x) => x.env.span.start,
        Instruction::Expose(x) => x.expose.span.start,
        Instruction::From(x) => x.from.span.start,
        Instruction::Healthcheck(x) => x.healthcheck.span.start,
        Instruction::Label(x) => x.label.span.start,
        Instruction::Maintainer(x) => x.maintainer.span.start,
        Instruction::Onbuild(x) => x.onbuild.span.start,
        Instruction::Run(x) => x.run.span.start,
        Instruction::Shell(x) => x.shell.span.start,
        Instruction::Stopsignal(x) => x.stopsignal.span.start,
        Instruction::User(x) => x.user.span.start,
        Instruction::Volume(x) => x.volume.span.start,
        Instruction::Workdir(x) => x.workdir.span.start,
        _ => return None,
    })
}

/// The text of each instruction, in order: from its keyword to the next one's, comments and
/// blank lines dropped, lines ended by the escape character joined to the next.
pub(crate) fn texts(source: &str, instructions: &[Instruction<'_>], escape: char) -> Vec<String> {
    let mut starts: Vec<usize> = Vec::new();
    for i in instructions {
        let at = start(i).unwrap_or_else(|| starts.last().copied().unwrap_or(0));
        starts.push(at);
    }
    starts
        .iter()
        .enumerate()
        .map(|(n, &from)| {
            let to = starts.get(n + 1).copied().unwrap_or(source.len());
            join_lines(&source[from..to], escape).trim().to_string()
        })
        .collect()
}

/// An instruction's text as Docker's parser reads it: lines ended by the escape character
/// joined to the next (the escape dropped, nothing put between), comments and blank lines
/// inside it skipped; up to the first line that does not continue.
pub(crate) fn join_lines(text: &str, escape: char) -> String {
    let mut joined = String::new();
    let mut first = true;
    for line in text.lines() {
        let trimmed = line.trim();
        if !first && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        first = false;
        let body = line.trim_end();
        match body.strip_suffix(escape) {
            Some(head) => joined.push_str(head),
            None => {
                joined.push_str(body);
                break;
            }
        }
    }
    joined
}

/// Syntax only BuildKit reads: refused by name rather than built wrong.
pub(crate) fn buildkit_only(i: &Instruction<'_>) -> Option<&'static str> {
    let flags: Vec<&str> = match i {
        Instruction::Run(r) => {
            if !r.here_docs.is_empty() {
                return Some("heredocs");
            }
            r.options.iter().map(|f| f.name.value.as_ref()).collect()
        }
        Instruction::Copy(c) => {
            if c.src
                .iter()
                .any(|s| matches!(s, parse_dockerfile::Source::HereDoc(_)))
            {
                return Some("heredocs");
            }
            c.options.iter().map(|f| f.name.value.as_ref()).collect()
        }
        Instruction::Add(a) => {
            if a.src
                .iter()
                .any(|s| matches!(s, parse_dockerfile::Source::HereDoc(_)))
            {
                return Some("heredocs");
            }
            a.options.iter().map(|f| f.name.value.as_ref()).collect()
        }
        _ => return None,
    };
    flags.into_iter().find_map(|f| match f {
        "mount" => Some("RUN --mount"),
        "network" => Some("RUN --network"),
        "security" => Some("RUN --security"),
        "chmod" => Some("--chmod"),
        "link" => Some("--link"),
        "parents" => Some("--parents"),
        "exclude" => Some("--exclude"),
        "keep-git-dir" => Some("--keep-git-dir"),
        "checksum" => Some("--checksum"),
        _ => None,
    })
}

/// The flags an instruction may carry in the legacy builder, others refused.
pub(crate) fn check_flags(i: &Instruction<'_>) -> Result<(), BuildError> {
    let (name, flags, allowed): (&str, Vec<&str>, &[&str]) = match i {
        Instruction::Copy(c) => (
            "COPY",
            c.options.iter().map(|f| f.name.value.as_ref()).collect(),
            &["from", "chown"],
        ),
        Instruction::Add(a) => (
            "ADD",
            a.options.iter().map(|f| f.name.value.as_ref()).collect(),
            &["chown"],
        ),
        Instruction::Run(r) => (
            "RUN",
            r.options.iter().map(|f| f.name.value.as_ref()).collect(),
            &[],
        ),
        Instruction::From(f) => (
            "FROM",
            f.options.iter().map(|f| f.name.value.as_ref()).collect(),
            &["platform"],
        ),
        _ => return Ok(()),
    };
    match flags.into_iter().find(|f| !allowed.contains(f)) {
        Some(f) => Err(BuildError::new(format!(
            "Dockerfile parse error: Unknown flag: {f} (in {name})"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continued_lines_join_without_their_escape() {
        assert_eq!(
            join_lines("echo a \\\n  && echo b\nNEXT", '\\'),
            "echo a   && echo b"
        );
        assert_eq!(
            join_lines("echo a `\n# inside\n\n  > /x\n", '`'),
            "echo a   > /x"
        );
        assert_eq!(join_lines("one line", '\\'), "one line");
    }

    #[test]
    fn each_instruction_is_shown_as_written_with_continuations_joined() {
        let src = "# syntax comment\nFROM busybox AS base\n\nENV A=1 B=\"two words\"\n# a comment\nRUN echo a \\\n    && echo b\nCMD [\"sh\", \"-c\", \"echo hi\"]\n";
        let df = parse_dockerfile::parse(src).unwrap();
        assert_eq!(
            texts(src, &df.instructions, '\\'),
            [
                "FROM busybox AS base",
                "ENV A=1 B=\"two words\"",
                "RUN echo a     && echo b",
                "CMD [\"sh\", \"-c\", \"echo hi\"]",
            ]
        );
    }

    /// Random text made of Dockerfile pieces: parsing, step texts, flag checks and word
    /// expansion never panic (no fuzzer runs here; a seeded generator stands in for one).
    #[test]
    fn no_input_makes_the_parser_or_the_lexer_panic() {
        const PIECES: [&str; 40] = [
            "FROM ",
            "RUN ",
            "COPY ",
            "ADD ",
            "ENV ",
            "ARG ",
            "LABEL ",
            "CMD ",
            "ONBUILD ",
            "HEALTHCHECK ",
            "SHELL ",
            "--from=",
            "--chown=",
            "--mount=",
            "AS ",
            "\\\n",
            "\n",
            "\"",
            "'",
            "$",
            "${",
            "}",
            ":-",
            ":+",
            ":?",
            "[",
            "]",
            ",",
            "=",
            "#",
            "# escape=`\n",
            "`",
            " ",
            "\t",
            "é",
            "a",
            "b/c",
            "..",
            "<<EOF\n",
            "EOF\n",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let lexer = crate::lex::Lexer::default();
        let env = vec!["A=1".to_string(), "EMPTY=".to_string()];
        for _ in 0..20_000 {
            let len = (next() % 30) as usize;
            let text: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let _ = lexer.process_words(&text, &env);
            let _ = lexer.process_word(&text, &env);
            let source = format!("FROM x\n{text}\n");
            let parsed = parse_dockerfile::parse(&source);
            if let Ok(df) = &parsed {
                let _ = texts(&source, &df.instructions, '\\');
                for i in &df.instructions {
                    let _ = buildkit_only(i);
                    let _ = check_flags(i);
                }
            }
        }
    }

    #[test]
    fn buildkit_syntax_is_named() {
        for (src, what) in [
            (
                "FROM x\nRUN --mount=type=cache,target=/c true\n",
                "RUN --mount",
            ),
            ("FROM x\nCOPY --chmod=644 a /b\n", "--chmod"),
            ("FROM x\nCOPY --link a /b\n", "--link"),
            ("FROM x\nRUN <<EOF\necho hi\nEOF\n", "heredocs"),
        ] {
            let df = parse_dockerfile::parse(src).unwrap();
            assert_eq!(buildkit_only(&df.instructions[1]), Some(what), "{src}");
        }
    }
}
