//! Text to token ids, keeping for every token where it sits in the original text.
//!
//! Offsets are counted in Unicode scalar values (Rust `char`s, Python string indices),
//! so any front end can map scores back onto the exact characters the user typed.

use crate::error::{Error, Result};
use tokenizers::Tokenizer;

/// One token of the input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Token {
    pub id: u32,
    /// The tokenizer's spelling (`##ing` for a continuation piece, `[CLS]` for specials).
    pub text: String,
    /// Character offsets into the original text; `0..0` for special tokens.
    pub start: usize,
    pub end: usize,
    pub special: bool,
    /// Index of the word this token belongs to (the tokenizer's pre-tokenizer words:
    /// whitespace- and punctuation-separated); `None` for special tokens.
    pub word: Option<u32>,
}

/// A Hugging Face tokenizer.json, with padding and truncation switched off: padding would
/// change the input, and long texts are handled explicitly rather than cut silently.
pub struct TextEncoder {
    tokenizer: Tokenizer,
    max_positions: usize,
}

impl TextEncoder {
    pub fn from_json(bytes: &[u8], file: &str, max_positions: usize) -> Result<Self> {
        // Check the JSON syntax first: tokenizers 0.22 panics (`expect("Helper")` in its
        // decoder deserializer) on some malformed documents instead of returning an error,
        // and a panic is a dead tab in the browser. Found by fuzzing (TESTING.md).
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
            .map_err(|e| Error::BadFile { file: file.to_string(), reason: format!("not a tokenizer.json: {e}") })?;
        let mut tokenizer = Tokenizer::from_bytes(bytes)
            .map_err(|e| Error::BadFile { file: file.to_string(), reason: format!("not a tokenizer.json: {e}") })?;
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| Error::Tokenizer(format!("cannot switch truncation off: {e}")))?;
        Ok(Self { tokenizer, max_positions })
    }

    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The tokenizer's spelling of an id (`[UNK]`-like text for ids it does not know).
    pub fn id_to_token(&self, id: u32) -> String {
        self.tokenizer.id_to_token(id).unwrap_or_else(|| format!("<{id}>"))
    }

    /// Tokenizes `text` with the model's special tokens around it, for one pass of the
    /// model: fails with a clear message when the result exceeds the model's positions.
    pub fn encode(&self, text: &str) -> Result<Vec<Token>> {
        let tokens = self.encode_long(text)?;
        if tokens.len() > self.max_positions {
            return Err(Error::Input(format!(
                "the text is {} tokens long, but this model reads at most {} positions in one pass (`explain` splits longer texts into windows)",
                tokens.len(),
                self.max_positions
            )));
        }
        Ok(tokens)
    }

    /// Tokenizes `text` of any length up to [`MAX_TEXT_TOKENS`] (for explaining in
    /// windows). Refuses before tokenizing at all when the text is far longer than that.
    pub fn encode_long(&self, text: &str) -> Result<Vec<Token>> {
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(Error::Input(format!(
                "the text is {chars} characters long; at most {MAX_TEXT_CHARS} are accepted (and at most {MAX_TEXT_TOKENS} tokens, a few thousand words)"
            )));
        }
        let encoding = self.tokenizer.encode_char_offsets(text, true).map_err(|e| Error::Tokenizer(e.to_string()))?;
        let tokens: Vec<Token> = encoding
            .get_ids()
            .iter()
            .zip(encoding.get_tokens())
            .zip(encoding.get_offsets())
            .zip(encoding.get_special_tokens_mask())
            .zip(encoding.get_word_ids())
            .map(|((((&id, text), &(start, end)), &special), &word)| Token {
                id,
                text: text.clone(),
                start,
                end,
                special: special == 1,
                word: if special == 1 { None } else { word },
            })
            .collect();
        if tokens.len() > MAX_TEXT_TOKENS {
            return Err(Error::Input(format!(
                "the text is {} tokens long; at most {MAX_TEXT_TOKENS} are explained (in overlapping windows of {} positions); shorten it or explain it in parts",
                tokens.len(),
                self.max_positions
            )));
        }
        Ok(tokens)
    }

    /// The most positions the model reads in one pass.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }
}

/// The longest text tokenized at all, so a pasted book gets a clear message at once
/// instead of seconds of tokenizing and megabytes of offsets in a browser tab.
pub const MAX_TEXT_CHARS: usize = 200_000;

/// The longest text explained, in tokens: eleven overlapping 512-position windows, about
/// 3,000 English words, which the browser explains in under a minute (each window costs
/// what a 512-token explanation does; BENCHMARKS.md).
pub const MAX_TEXT_TOKENS: usize = 4096;

/// The ids with the flagged positions deleted and the rest re-packed: the perturbation
/// of occlusion and of the ERASER metrics (no [MASK] substitution).
pub fn without_positions(ids: &[u32], drop: impl Fn(usize) -> bool) -> Vec<u32> {
    ids.iter().enumerate().filter(|(i, _)| !drop(*i)).map(|(_, &id)| id).collect()
}
