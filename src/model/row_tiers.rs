//! A word-embedding table stored in two formats, by row: the rows that texts use most in
//! a fine format, the rest in a coarse one (`saliency pack --quant ...,frequent-rows=N:FORMAT`).
//!
//! Why: the table is half of a small encoder's weights, and both of its roles meet a few
//! rows far more than the others. The lookup reads the rows of the input's tokens (in the
//! project's tweets, the 5,000 most frequent of 30,522 words are 99% of the tokens), and
//! the decoder's top-ranked words at each position are mostly those same tokens. So a few
//! thousand rows at 8 bits and the long tail at 3-4 bits cost about as many bytes as every
//! row at 5 bits, and most texts meet only the 8-bit rows.
//!
//! In the GGUF file, group g of table `NAME` is the tensor `NAME@g` (its rows in ascending
//! id order), and the metadata `layer_saliency.row_groups.NAME` gives each row's group
//! (one byte per row). The loader puts the rows back in place (`Weights::from_gguf`).

use super::int8::{for_each_row, Int8Matrix};
use candle_core::quantized::QTensor;

/// Metadata key of the row groups of tensor `name`.
pub fn groups_key(name: &str) -> String {
    format!("layer_saliency.row_groups.{name}")
}

/// The tensor holding group `group` of table `name`.
pub fn part_name(name: &str, group: usize) -> String {
    format!("{name}@{group}")
}

/// `(table, group)` if `name` is a part of a split table.
pub fn parse_part(name: &str) -> Option<(&str, usize)> {
    let (table, group) = name.rsplit_once('@')?;
    Some((table, group.parse().ok()?))
}

/// Each row's group: 1 for the `count` rows with the highest `usage` (ties: lower id
/// first; BERT-style vocabularies list frequent words first), 0 for the rest. `count` is
/// rounded up to a multiple of `multiple` (so that the part's values fill whole blocks).
pub fn by_usage(usage: &[u64], count: usize, multiple: usize) -> Vec<u8> {
    let count = count.div_ceil(multiple.max(1)) * multiple.max(1);
    let mut order: Vec<usize> = (0..usage.len()).collect();
    order.sort_by(|&a, &b| usage[b].cmp(&usage[a]).then(a.cmp(&b)));
    let mut groups = vec![0u8; usage.len()];
    for &row in order.iter().take(count) {
        groups[row] = 1;
    }
    groups
}

/// The rows of each group, ascending, for `parts` groups.
pub fn members(groups: &[u8], parts: usize) -> Vec<Vec<usize>> {
    let mut members = vec![Vec::new(); parts];
    for (row, &g) in groups.iter().enumerate() {
        if let Some(list) = members.get_mut(g as usize) {
            list.push(row);
        }
    }
    members
}

/// The rows `rows` of a row-major matrix with `cols` columns, as one row-major matrix.
pub fn gather(data: &[f32], cols: usize, rows: &[usize]) -> Vec<f32> {
    rows.iter().flat_map(|&r| data[r * cols..(r + 1) * cols].iter().copied()).collect()
}

/// Puts the parts of a split `rows x cols` table back together, in the int8 layout that
/// lookup and decoder share. Errors say what does not fit, for the caller's message.
pub fn assemble(groups: &[u8], parts: &[QTensor], rows: usize, cols: usize) -> Result<Int8Matrix, String> {
    if groups.len() != rows {
        return Err(format!("its row groups list {} rows, the table has {rows}", groups.len()));
    }
    if let Some(&g) = groups.iter().find(|&&g| g as usize >= parts.len()) {
        return Err(format!("a row is in group {g}, but only {} parts are stored", parts.len()));
    }
    let members = members(groups, parts.len());
    for (g, (part, rows)) in parts.iter().zip(&members).enumerate() {
        if part.shape().elem_count() != rows.len() * cols {
            return Err(format!(
                "part {g} holds {} values, its {} rows need {}",
                part.shape().elem_count(),
                rows.len(),
                rows.len() * cols
            ));
        }
    }
    Int8Matrix::from_rows(rows, cols, |set| {
        for (part, rows) in parts.iter().zip(&members) {
            for_each_row(part, rows.len(), cols, |i, row| set(rows[i], row)).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::GgmlDType;
    use candle_core::{Device, Tensor};

    #[test]
    fn the_most_used_rows_form_group_one_rounded_up_to_whole_blocks() {
        let usage = [5, 0, 9, 9, 1, 0, 0, 3];
        assert_eq!(by_usage(&usage, 3, 1), vec![1, 0, 1, 1, 0, 0, 0, 0]);
        // Rounded up to 4 rows: the next is row 7 (usage 3).
        assert_eq!(by_usage(&usage, 3, 2), vec![1, 0, 1, 1, 0, 0, 0, 1]);
        // Ties go to the lower id.
        assert_eq!(by_usage(&[0, 0, 0], 1, 1), vec![1, 0, 0]);
        assert_eq!(members(&[1, 0, 1, 0], 2), vec![vec![1, 3], vec![0, 2]]);
        assert_eq!(parse_part(&part_name("a.word_embeddings.weight", 1)), Some(("a.word_embeddings.weight", 1)));
        assert_eq!(parse_part("a.weight"), None);
    }

    #[test]
    fn a_split_table_comes_back_row_for_row() {
        let (rows, cols) = (10, 384);
        let data: Vec<f32> = (0..rows * cols).map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0).collect();
        let groups = by_usage(&[0, 7, 0, 3, 0, 0, 9, 0, 0, 1], 4, 2);
        let members = members(&groups, 2);
        let formats = [GgmlDType::Q4K, GgmlDType::Q8_0];
        let parts: Vec<QTensor> = members
            .iter()
            .zip(formats)
            .map(|(rows, format)| {
                let part = Tensor::from_vec(gather(&data, cols, rows), (rows.len() * cols / 256, 256), &Device::Cpu);
                let part = if format == GgmlDType::Q8_0 { part.unwrap().reshape((rows.len(), cols)) } else { part };
                QTensor::quantize(&part.unwrap(), format).unwrap()
            })
            .collect();
        let table = assemble(&groups, &parts, rows, cols).unwrap().dequantize();
        for r in 0..rows {
            let error = (0..cols).map(|c| (table[r * cols + c] - data[r * cols + c]).abs()).fold(0f32, f32::max);
            // 8-bit rows are ~16x finer than 4-bit ones (the int8 layout re-rounds both).
            let bound = if groups[r] == 1 { 0.02 } else { 0.2 };
            assert!(error < bound, "row {r} (group {}): error {error}", groups[r]);
        }
        assert!(assemble(&groups[1..], &parts, rows, cols).unwrap_err().contains("row groups"));
        assert!(assemble(&vec![2; rows], &parts, rows, cols).unwrap_err().contains("group 2"));
        assert!(assemble(&vec![0; rows], &parts, rows, cols).unwrap_err().contains("part 0"));
    }
}
