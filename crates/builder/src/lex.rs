//! Docker's word processing of instruction arguments (moby/buildkit's `shell.Lex`): quotes,
//! the escape character (`\` or what `# escape=` names), and variable expansion with
//! `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR:+word}` and `${VAR:?message}`. Written here
//! because the parser leaves it to its users, as the Dockerfile grammar does not fix it.

/// Why a word cannot be processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    #[error("unexpected end of statement while looking for matching {0}")]
    Unterminated(char),
    #[error("missing ':' in substitution")]
    BadSubstitution,
    #[error("{name}: {message}")]
    Required { name: String, message: String },
}

/// The lexer: its escape character.
#[derive(Debug, Clone, Copy)]
pub struct Lexer {
    pub escape: char,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer { escape: '\\' }
    }
}

/// Where variables come from: `KEY=VALUE` entries, the last of a key winning.
pub fn lookup<'e>(env: &'e [String], name: &str) -> Option<&'e str> {
    env.iter().rev().find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
    })
}

/// The key of a `KEY=VALUE` entry (the whole entry when it has no `=`).
pub fn env_key(kv: &str) -> &str {
    kv.split_once('=').map_or(kv, |(k, _)| k)
}

struct Scan<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Lexer {
    /// One word: quotes removed, escapes applied, variables expanded; whitespace kept.
    pub fn process_word(&self, word: &str, env: &[String]) -> Result<String, LexError> {
        Ok(self.process(word, env, false)?.concat())
    }

    /// Words split at unquoted whitespace (an empty quoted word stays a word).
    pub fn process_words(&self, words: &str, env: &[String]) -> Result<Vec<String>, LexError> {
        self.process(words, env, true)
    }

    fn process(&self, text: &str, env: &[String], split: bool) -> Result<Vec<String>, LexError> {
        let mut scan = Scan {
            chars: text.chars().peekable(),
        };
        let mut words = Vec::new();
        let mut word = String::new();
        // A word made only of quotes is still a word.
        let mut started = false;
        while let Some(&c) = scan.chars.peek() {
            if split && c.is_whitespace() {
                scan.chars.next();
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
                continue;
            }
            started = true;
            match c {
                '\'' => {
                    scan.chars.next();
                    word.push_str(&self.single_quoted(&mut scan)?);
                }
                '"' => {
                    scan.chars.next();
                    word.push_str(&self.double_quoted(&mut scan, env)?);
                }
                '$' => {
                    scan.chars.next();
                    word.push_str(&self.dollar(&mut scan, env)?);
                }
                c if c == self.escape => {
                    scan.chars.next();
                    // A trailing escape is dropped.
                    if let Some(next) = scan.chars.next() {
                        word.push(next);
                    }
                }
                c => {
                    scan.chars.next();
                    word.push(c);
                }
            }
        }
        if started || !split {
            words.push(word);
        }
        Ok(words)
    }

    fn single_quoted(&self, scan: &mut Scan<'_>) -> Result<String, LexError> {
        let mut out = String::new();
        loop {
            match scan.chars.next() {
                None => return Err(LexError::Unterminated('\'')),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&self, scan: &mut Scan<'_>, env: &[String]) -> Result<String, LexError> {
        let mut out = String::new();
        loop {
            match scan.chars.next() {
                None => return Err(LexError::Unterminated('"')),
                Some('"') => return Ok(out),
                Some('$') => out.push_str(&self.dollar(scan, env)?),
                Some(c) if c == self.escape => match scan.chars.peek().copied() {
                    // Only these can be escaped inside double quotes; other escapes stay.
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        scan.chars.next();
                        out.push(n);
                    }
                    None => {}
                    Some(_) => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
    }

    /// After a `$`: a name, `{…}`, or a lone dollar.
    fn dollar(&self, scan: &mut Scan<'_>, env: &[String]) -> Result<String, LexError> {
        let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
        if scan.chars.peek() != Some(&'{') {
            let mut name = String::new();
            while let Some(&c) = scan.chars.peek() {
                if !name_char(c) {
                    break;
                }
                name.push(c);
                scan.chars.next();
            }
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(lookup(env, &name).unwrap_or_default().to_string());
        }
        scan.chars.next();
        let mut name = String::new();
        loop {
            match scan.chars.peek().copied() {
                None => return Err(LexError::Unterminated('}')),
                Some('}') => {
                    scan.chars.next();
                    return Ok(lookup(env, &name).unwrap_or_default().to_string());
                }
                Some(':') => {
                    scan.chars.next();
                    break;
                }
                Some(c) if name_char(c) => {
                    name.push(c);
                    scan.chars.next();
                }
                Some(_) => return Err(LexError::BadSubstitution),
            }
        }
        let modifier = scan.chars.next().ok_or(LexError::Unterminated('}'))?;
        // The word up to the closing brace, itself processed.
        let mut raw = String::new();
        let mut depth = 0;
        loop {
            match scan.chars.next() {
                None => return Err(LexError::Unterminated('}')),
                Some('}') if depth == 0 => break,
                Some(c) => {
                    if c == '{' {
                        depth += 1;
                    } else if c == '}' {
                        depth -= 1;
                    }
                    raw.push(c);
                }
            }
        }
        let value = lookup(env, &name).filter(|v| !v.is_empty());
        match modifier {
            '-' => match value {
                Some(v) => Ok(v.to_string()),
                None => self.process_word(&raw, env),
            },
            '+' => match value {
                Some(_) => self.process_word(&raw, env),
                None => Ok(String::new()),
            },
            '?' => match value {
                Some(v) => Ok(v.to_string()),
                None => Err(LexError::Required {
                    name,
                    message: if raw.is_empty() {
                        "is not allowed to be unset".into()
                    } else {
                        self.process_word(&raw, env)?
                    },
                }),
            },
            _ => Err(LexError::BadSubstitution),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<String> {
        vec!["HOME=/root".into(), "EMPTY=".into(), "NAME=berth".into()]
    }

    #[test]
    fn words_as_docker_processes_them() {
        let lex = Lexer::default();
        let e = env();
        let word = |w: &str| lex.process_word(w, &e).unwrap();
        // (input, Docker's result) — from moby/buildkit's shell lexer rules.
        for (input, want) in [
            ("hello", "hello"),
            ("$HOME/x", "/root/x"),
            ("${HOME}x", "/rootx"),
            ("'$HOME'", "$HOME"),
            ("\"$HOME\"", "/root"),
            ("\\$HOME", "$HOME"),
            ("\"a\\\"b\"", "a\"b"),
            ("\"a\\nb\"", "a\\nb"),
            ("${MISSING:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${NAME:-def}", "berth"),
            ("${NAME:+alt}", "alt"),
            ("${MISSING:+alt}", ""),
            ("${MISSING:-$HOME}", "/root"),
            ("$", "$"),
            ("a$", "a$"),
            ("$MISSING", ""),
            ("a b", "a b"),
        ] {
            assert_eq!(word(input), want, "{input}");
        }
        assert_eq!(
            lex.process_word("${MISSING:?must be set}", &e).unwrap_err(),
            LexError::Required {
                name: "MISSING".into(),
                message: "must be set".into()
            }
        );
        assert!(lex.process_word("'open", &e).is_err());
        assert!(lex.process_word("${open", &e).is_err());
        // The escape directive changes the escape character.
        let windows = Lexer { escape: '`' };
        assert_eq!(windows.process_word("`$HOME\\x", &e).unwrap(), "$HOME\\x");
    }

    #[test]
    fn words_split_at_unquoted_whitespace() {
        let lex = Lexer::default();
        let e = env();
        assert_eq!(
            lex.process_words("a \"b c\" '' d\\ e $NAME", &e).unwrap(),
            ["a", "b c", "", "d e", "berth"]
        );
        assert!(lex.process_words("   ", &e).unwrap().is_empty());
    }
}
