//! Container names: validation and Docker-style generated names (`adjective_surname`).

const ADJECTIVES: &[&str] = &[
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful", "bold",
    "boring", "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending", "confident", "cool",
    "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic", "elastic", "elated",
    "elegant", "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty",
    "funny", "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful", "hungry",
    "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving",
    "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice", "nifty", "nostalgic",
    "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical",
    "recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange",
    "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant", "vigilant",
    "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
];

const SURNAMES: &[&str] = &[
    "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage", "banach",
    "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara", "blackwell", "bohr", "booth", "borg", "bose",
    "boyd", "brahmagupta", "brattain", "brown", "carson", "chandrasekhar", "clarke", "colden", "cori", "cray",
    "curie", "darwin", "davinci", "dijkstra", "dubinsky", "easley", "edison", "einstein", "elion", "engelbart",
    "euclid", "euler", "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg", "goldstine",
    "goldwasser", "golick", "goodall", "haibt", "hamilton", "hawking", "heisenberg", "hermann", "heyrovsky", "hodgkin",
    "hoover", "hopper", "hugle", "hypatia", "jackson", "jang", "jennings", "jepsen", "johnson", "joliot", "jones",
    "kalam", "kapitsa", "kare", "keldysh", "keller", "kepler", "khorana", "kilby", "kirch", "knuth", "kowalevski",
    "lalande", "lamarr", "lamport", "leakey", "leavitt", "lewin", "lichterman", "liskov", "lovelace", "lumiere",
    "mahavira", "mayer", "mccarthy", "mcclintock", "mclean", "mcnulty", "meitner", "meninsky", "mestorf", "minsky",
    "mirzakhani", "morse", "murdock", "napier", "nash", "neumann", "newton", "nightingale", "nobel", "noether",
    "northcutt", "noyce", "panini", "pare", "pasteur", "payne", "perlman", "pike", "poincare", "poitras", "ptolemy",
    "raman", "ramanujan", "ride", "ritchie", "roentgen", "rosalind", "saha", "sammet", "shamir", "shannon", "shaw",
    "shirley", "shockley", "sinoussi", "snyder", "spence", "stallman", "stonebraker", "swanson", "swartz", "swirles",
    "tesla", "thompson", "torvalds", "turing", "varahamihira", "visvesvaraya", "volhard", "wescoff", "wiles",
    "williams", "wilson", "wing", "wozniak", "wright", "yalow", "yonath",
];

/// A random `adjective_surname`; `retry > 0` appends a digit, as Docker does after a clash.
pub fn generate(retry: u32) -> String {
    loop {
        let a = ADJECTIVES[rand::random_range(0..ADJECTIVES.len())];
        let s = SURNAMES[rand::random_range(0..SURNAMES.len())];
        // Steve Wozniak is not boring.
        if a == "boring" && s == "wozniak" {
            continue;
        }
        return if retry > 0 { format!("{a}_{s}{}", rand::random_range(0..10)) } else { format!("{a}_{s}") };
    }
}

/// Docker's name rule: `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid(name: &str) -> bool {
    let n = name.strip_prefix('/').unwrap_or(name);
    let b = n.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphanumeric() && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_valid() {
        for i in 0..200 {
            let n = generate(i % 2);
            assert!(valid(&n), "{n}");
            assert!(n.contains('_'));
        }
    }

    #[test]
    fn name_rule() {
        for ok in ["ab", "/web", "my-app.1", "A_b"] {
            assert!(valid(ok), "{ok}");
        }
        for bad in ["", "a", "/", "_ab", "-ab", "a b", "a/b", "ä1"] {
            assert!(!valid(bad), "{bad}");
        }
    }
}
