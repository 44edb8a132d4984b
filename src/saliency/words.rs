//! From sub-word tokens to the words a reader sees (method.md section 7).
//!
//! Tokens are grouped by the tokenizer's own word index (its pre-tokenizer splits on
//! whitespace and punctuation), their scores summed, and each word keeps the character
//! span it covers in the original text, so the text can be rebuilt exactly: the gaps
//! between words are the original characters, untouched.

use crate::model::input::Token;
use serde::Serialize;

/// One word of the original text with its summed saliency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordSaliency {
    /// The exact characters of the original text in `start..end`.
    pub text: String,
    /// Character offsets (Unicode scalar values) into the original text.
    pub start: usize,
    pub end: usize,
    pub saliency: f32,
    /// Indices of the tokens that make up this word.
    pub tokens: Vec<usize>,
}

/// Groups non-special tokens into words and sums `token_scores` over each.
pub fn word_saliency(text: &str, tokens: &[Token], token_scores: &[f32]) -> Vec<WordSaliency> {
    let chars: Vec<char> = text.chars().collect();
    let mut words: Vec<(Option<u32>, WordSaliency)> = Vec::new();
    for (index, (token, &score)) in tokens.iter().zip(token_scores).enumerate() {
        if token.special {
            continue;
        }
        match words.last_mut() {
            Some((word_id, word)) if token.word.is_some() && *word_id == token.word => {
                word.start = word.start.min(token.start);
                word.end = word.end.max(token.end);
                word.saliency += score;
                word.tokens.push(index);
            }
            _ => words.push((
                token.word,
                WordSaliency {
                    text: String::new(),
                    start: token.start,
                    end: token.end,
                    saliency: score,
                    tokens: vec![index],
                },
            )),
        }
    }
    words
        .into_iter()
        .map(|(_, mut word)| {
            let end = word.end.min(chars.len());
            word.text = chars[word.start.min(end)..end].iter().collect();
            word
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(id: u32, start: usize, end: usize, word: Option<u32>) -> Token {
        Token { id, text: String::new(), start, end, special: word.is_none(), word }
    }

    #[test]
    fn pieces_of_a_word_sum_and_keep_the_original_spelling() {
        // "Café unwatchable!" -> [CLS] cafe | un ##watch ##able | ! [SEP]
        let text = "Café unwatchable!";
        let tokens = [
            tok(1, 0, 0, None),
            tok(10, 0, 4, Some(0)),
            tok(11, 5, 7, Some(1)),
            tok(12, 7, 12, Some(1)),
            tok(13, 12, 16, Some(1)),
            tok(14, 16, 17, Some(2)),
            tok(2, 0, 0, None),
        ];
        let scores = [9.0, 1.0, 0.5, 0.25, 0.125, -2.0, 9.0];
        let words = word_saliency(text, &tokens, &scores);
        let summary: Vec<(&str, f32)> = words.iter().map(|w| (w.text.as_str(), w.saliency)).collect();
        assert_eq!(summary, vec![("Café", 1.0), ("unwatchable", 0.875), ("!", -2.0)]);
        assert_eq!(words[1].tokens, vec![2, 3, 4]);
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        // An emoji is one char but four bytes.
        let text = "🙂 ok";
        let tokens = [tok(1, 0, 1, Some(0)), tok(2, 2, 4, Some(1))];
        let words = word_saliency(text, &tokens, &[1.0, 2.0]);
        assert_eq!(words[0].text, "🙂");
        assert_eq!(words[1].text, "ok");
    }
}
