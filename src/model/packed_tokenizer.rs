//! The tokenizer as a packed file stores it: tokenizer.json without its vocabulary, and
//! the vocabulary as one string, its tokens in id order, one per line.
//!
//! Why: tokenizer.json spells a vocabulary as `"token":id` pairs, and the ids (0..n, in
//! some order) are a third of its bytes: 0.24 MB of MiniLM's 0.47 MB tokenizer, which
//! counts against the default model's 15 MB. The lines give the same map back exactly.
//! A tokenizer whose vocabulary is not a map onto 0..n, or has a token with a line break,
//! is stored whole.

use serde_json::{Map, Value};

/// Splits `json` into the tokenizer without its vocabulary and the vocabulary's lines,
/// or `None` if it cannot be split losslessly.
pub fn split(json: &str) -> Option<(String, String)> {
    let mut tokenizer: Value = serde_json::from_str(json).ok()?;
    let vocab = tokenizer.get_mut("model")?.as_object_mut()?.remove("vocab")?;
    let vocab = vocab.as_object()?;
    let mut tokens: Vec<Option<&str>> = vec![None; vocab.len()];
    for (token, id) in vocab {
        let slot = tokens.get_mut(usize::try_from(id.as_u64()?).ok()?)?;
        if slot.is_some() || token.contains('\n') {
            return None;
        }
        *slot = Some(token);
    }
    let lines: Vec<&str> = tokens.into_iter().collect::<Option<_>>()?;
    Some((serde_json::to_string(&tokenizer).ok()?, lines.join("\n")))
}

/// tokenizer.json from the two parts [`split`] made.
pub fn join(json: &str, lines: &str) -> Result<String, String> {
    let mut tokenizer: Value = serde_json::from_str(json).map_err(|e| format!("not JSON ({e})"))?;
    let model = tokenizer
        .get_mut("model")
        .and_then(Value::as_object_mut)
        .ok_or("it has no `model` object to put the vocabulary in")?;
    let mut vocab = Map::new();
    for (id, token) in lines.split('\n').enumerate() {
        if vocab.insert(token.to_string(), Value::from(id)).is_some() {
            return Err(format!("the vocabulary lists `{token}` twice"));
        }
    }
    model.insert("vocab".into(), Value::Object(vocab));
    serde_json::to_string(&tokenizer).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vocabulary_comes_back_as_the_same_map() {
        let json = r###"{"model":{"type":"WordPiece","vocab":{"[PAD]":0,"b":2,"a":1,"##s":3}},"x":[1,2]}"###;
        let (rest, lines) = split(json).unwrap();
        assert_eq!(lines, "[PAD]\na\nb\n##s");
        assert!(!rest.contains("vocab"));
        let back: Value = serde_json::from_str(&join(&rest, &lines).unwrap()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(json).unwrap());
    }

    #[test]
    fn vocabularies_that_do_not_split_exactly_are_kept_whole() {
        for json in [
            r#"{"model":{"vocab":{"a":0,"b":2}}}"#,
            r#"{"model":{"vocab":{"a":0,"b":0}}}"#,
            r#"{"model":{"vocab":{"a\nb":0}}}"#,
            r#"{"model":{"vocab":[["a",0.5]]}}"#,
            r#"{"model":{}}"#,
            "not json",
        ] {
            assert_eq!(split(json), None, "{json}");
        }
        assert!(join(r#"{"model":{}}"#, "a\na").unwrap_err().contains("twice"));
        assert!(join("[]", "a").is_err());
    }
}
