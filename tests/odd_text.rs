//! Unusual text: every case either explains, with every word mapping onto the exact
//! original characters, or fails with a clear message. Never a panic.

mod common;

use common::*;
use layer_saliency::{Explainer, Options};

const TEXTS: &[&str] = &[
    "a",
    "!",
    "👨‍👩‍👧‍👦 family emoji with ZWJ",
    "中文文本和 mixed English",
    "مرحبا بالعالم hello",
    "עברית and English",
    "e\u{301}le\u{300}ve combining marks",
    "zero\u{200b}width\u{200d}joiners\u{feff}",
    "control\u{1}chars\u{7}and\u{0}NUL",
    "tabs\tand\nnew\r\nlines",
    "<script>alert(1)</script> <img src=x onerror=alert(2)> javascript:alert(3)",
    "\u{fffd} replacement char from a lone surrogate",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ",
    "ﬁ ligature and ß",
    "İstanbul ǅ titlecase",
];

#[test]
fn odd_texts_explain_and_words_map_onto_the_exact_characters() {
    for case in ["bert_prefixed", "minilm"] {
        let golden = Golden::load(case);
        let ex = Explainer::new(golden.files.load().unwrap(), case, "f32");
        let options = Options { faithfulness: false, ..Options::default() };
        for text in TEXTS {
            let chars: Vec<char> = text.chars().collect();
            match ex.explain(text, &options, true) {
                Ok(e) => {
                    for w in &e.words {
                        assert!(w.start < w.end && w.end <= chars.len(), "{case} {text:?}: word {w:?} out of range");
                        assert_eq!(w.text, chars[w.start..w.end].iter().collect::<String>(), "{case} {text:?}");
                    }
                    for t in e.tokens.iter().filter(|t| !t.special) {
                        assert!(t.start <= t.end && t.end <= chars.len(), "{case} {text:?}: token {t:?}");
                    }
                    assert!(e.saliency.iter().all(|s| s.is_finite()), "{case} {text:?}: non-finite saliency");
                }
                Err(err) => {
                    let message = err.to_string();
                    assert!(!message.is_empty(), "{case} {text:?}: empty message");
                    eprintln!("{case} {text:?}: {message}");
                }
            }
        }
    }
}

#[test]
fn text_that_is_only_invisible_characters_gets_a_clear_message() {
    let ex = Explainer::new(Golden::load("bert_prefixed").files.load().unwrap(), "t", "f32");
    for text in ["\u{200b}\u{200b}", "\u{0}\u{0}", " \u{feff} "] {
        let err = ex.explain(text, &Options::default(), true).unwrap_err().to_string();
        assert!(err.contains("empty"), "{text:?}: {err}");
    }
}

/// Too long to explain even in windows, or far too long to tokenize: a clear message
/// naming the limit (texts in between are explained in windows: tests/long_text.rs).
#[test]
fn long_texts_get_a_clear_message_naming_the_limit() {
    use layer_saliency::model::input::MAX_TEXT_TOKENS;
    let ex = Explainer::new(Golden::load("bert_prefixed").files.load().unwrap(), "t", "f32");
    let tokens_over = "good ".repeat(MAX_TEXT_TOKENS);
    let err = ex.explain(&tokens_over, &Options::default(), true).unwrap_err().to_string();
    assert!(err.contains("tokens long") && err.contains(&format!("at most {MAX_TEXT_TOKENS}")), "{err}");
    let huge = "x".repeat(layer_saliency::model::input::MAX_TEXT_CHARS + 1);
    let start = std::time::Instant::now();
    let err = ex.explain(&huge, &Options::default(), true).unwrap_err().to_string();
    assert!(err.contains("characters long") && err.contains("200000"), "{err}");
    assert!(start.elapsed().as_millis() < 500, "refused only after {:?}", start.elapsed());
}
