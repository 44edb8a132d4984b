//! `saliency`: the command-line face of the library. Reads files, calls the library,
//! prints. Exit status 0 on success, 2 on any error (its cause chain on stderr).

mod args;
mod model_dir;
mod print;

use args::{Cli, Command, EvalArgs, ExplainArgs, GradsArgs};
use clap::Parser;
use layer_saliency::explain::Explainer;
use layer_saliency::gradients::{argmax, layer_gradients, Objective};
use layer_saliency::metrics::evaluation::evaluate;
use layer_saliency::model::gptq::Rounding;
use layer_saliency::model::pack::{CalibrationPlan, QuantPlan};
use layer_saliency::model::Model;
use layer_saliency::options::Method;
use layer_saliency::saliency::decode::decode_layers;
use layer_saliency::{Error, Result};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("saliency: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Explain(args) => explain(args),
        Command::Eval(args) => eval(args),
        Command::Grads(args) => grads(args),
        Command::Pack(args) => pack(args),
        Command::Accuracy(args) => accuracy(args),
        Command::Bench(args) => bench(args),
    }
}

fn bench(args: args::BenchArgs) -> Result<ExitCode> {
    use layer_saliency::model::vocabulary::Kernel;
    if let Some(name) = &args.vocabulary_kernel {
        Kernel::prefer(name).map_err(|reason| Error::Option { option: "--vocabulary-kernel".into(), reason })?;
    }
    let explainer = explainer(&args.model)?;
    use layer_saliency::metrics::peak::{model_shapes, throughput};
    let rows = layer_saliency::metrics::bench::bench(&explainer, &args.lengths, args.repeats.max(1), !args.no_ig)?;
    let throughput = throughput(&model_shapes(&explainer.model().config, 64), args.repeats.max(1));
    let report = serde_json::json!({
        "model": args.model.model.display().to_string(),
        "quant": explainer.model().quant,
        "threads": candle_core::utils::get_num_threads(),
        "vocabulary_kernel": Kernel::best().name(),
        "rows": rows,
        "throughput": throughput,
    });
    if args.json {
        print::json(&report)?;
    } else {
        println!(
            "{:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12} {:>9} {:>7}",
            "tokens",
            "forward",
            "fwd(expl)",
            "backward",
            "decode",
            "saliency",
            "DLS",
            "faithfulness",
            "IG-32",
            "IG/DLS"
        );
        for r in &rows {
            let stage = |s: &str| r.stages_ms.get(s).copied().unwrap_or(f64::NAN);
            println!(
                "{:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>12.1} {:>9.1} {:>7.1}",
                r.tokens,
                r.forward_ms,
                stage("forward"),
                stage("backward"),
                stage("decode"),
                stage("saliency"),
                r.dls_ms,
                r.faithfulness_ms,
                r.ig32_ms.unwrap_or(f64::NAN),
                r.ig32_over_dls.unwrap_or(f64::NAN)
            );
        }
        println!();
        println!(
            "one core, tight kernels: int8 dot {:.1} G MAC/s, f32 mul+add {:.1} GFLOP/s",
            throughput.int8_dot_peak_gmacs, throughput.f32_peak_gflops
        );
        for m in &throughput.matmuls {
            println!(
                "  {:<30} {:>4} x {:>4} x {:>5}  {:>8.2} ms  {:>6.1} G MAC/s  {:>4.0}% of the int8 ceiling",
                m.name,
                m.m,
                m.k,
                m.n,
                m.median_ms,
                m.gmacs,
                m.of_peak * 100.0
            );
        }
        println!("decoder product in exact integers (model/vocabulary.rs), by instruction set:");
        for v in &throughput.vocabulary {
            println!(
                "  {:<12} {:>4} x {:>4} x {:>5}  {:>8.2} ms  {:>6.1} G MAC/s  {:>4.0}% of its dot ceiling ({:.1} G MAC/s)",
                v.kernel,
                v.m,
                v.k,
                v.n,
                v.median_ms,
                v.gmacs,
                v.of_peak * 100.0,
                v.dot_peak_gmacs
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn accuracy(args: args::AccuracyArgs) -> Result<ExitCode> {
    use layer_saliency::metrics::agreement::{accuracy, agreement, evenly_spaced};
    let content = std::fs::read_to_string(&args.texts)
        .map_err(|e| Error::BadFile { file: args.texts.display().to_string(), reason: e.to_string() })?;
    let labelled: Vec<(String, String)> = content
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(label, text)| (label.to_string(), text.to_string()))
        .collect();
    if labelled.is_empty() {
        return Err(Error::Input(format!("{} holds no `label<TAB>text` lines", args.texts.display())));
    }
    let first = explainer(&args.model)?;
    let mut report = serde_json::json!({ "model": args.model.model.display().to_string(), "quant": first.model().quant,
        "accuracy": accuracy(first.model(), &labelled)? });
    if let Some(other_path) = &args.other {
        let other = explainer(&args::ModelArgs { model: other_path.clone(), lm_head: None })?;
        let texts: Vec<String> =
            evenly_spaced(&labelled, args.agreement_texts).into_iter().map(|(_, text)| text).collect();
        report["other"] = serde_json::json!({ "model": other_path.display().to_string(), "quant": other.model().quant,
            "accuracy": accuracy(other.model(), &labelled)? });
        report["dls_word_agreement"] = serde_json::to_value(agreement(&first, &other, &texts, &Default::default())?)
            .map_err(|e| Error::Input(e.to_string()))?;
        // Runs before 2026-11-27 (session 7) took the first N texts instead.
        report["dls_word_agreement"]["sample"] = "evenly spaced over the file".into();
    }
    if args.json {
        print::json(&report)?;
    } else {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| Error::Input(e.to_string()))?);
    }
    Ok(ExitCode::SUCCESS)
}

fn pack(args: args::PackArgs) -> Result<ExitCode> {
    if args.model.model.is_file() {
        return Err(Error::Option {
            option: "--model".into(),
            reason: "pack reads a model directory, not a packed file".into(),
        });
    }
    let plan = QuantPlan::parse(&args.quant)?;
    let files = model_dir::read_model_dirs(&args.model.model, args.model.lm_head.as_deref())?;
    let texts = match &args.calibrate {
        Some(path) => {
            let texts = read_texts(path)?;
            if texts.is_empty() {
                return Err(Error::Input(format!("{} holds no calibration texts", path.display())));
            }
            Some(texts)
        }
        None => None,
    };
    let rounding = Rounding::parse(&args.rounding).ok_or_else(|| Error::Option {
        option: "--rounding".into(),
        reason: format!("`{}` is not one of nearest, gptq, gptq-act-order", args.rounding),
    })?;
    let calibration =
        texts.as_deref().map(|texts| CalibrationPlan { texts, model_texts: args.calibration_texts, rounding });
    let (bytes, report) =
        layer_saliency::model::pack::pack(&files.model_files()?, &plan, &args.quant, calibration.as_ref())?;
    std::fs::write(&args.out, &bytes)
        .map_err(|e| Error::BadFile { file: args.out.display().to_string(), reason: e.to_string() })?;
    let formats: Vec<String> = report.formats.iter().map(|(f, n)| format!("{n} {f}")).collect();
    eprintln!("{}: {} bytes, {} tensors ({})", args.out.display(), report.bytes, report.tensors, formats.join(", "));
    Ok(ExitCode::SUCCESS)
}

fn load(args: &args::ModelArgs) -> Result<Model> {
    let files = model_dir::read_model_dirs(&args.model, args.lm_head.as_deref())?;
    Model::from_file_set(&files)
}

fn explainer(args: &args::ModelArgs) -> Result<Explainer> {
    let name = args.model.file_stem().map_or_else(|| args.model.display().to_string(), |n| n.to_string_lossy().into());
    Explainer::from_file_set(&model_dir::read_model_dirs(&args.model, args.lm_head.as_deref())?, &name)
}

fn explain(args: ExplainArgs) -> Result<ExitCode> {
    let options = args.to_options()?;
    let explainer = explainer(&args.model)?;
    let explanation = explainer.explain(&args.text, &options, true)?;
    if args.json {
        print::json(&explanation)?;
    } else {
        print::explanation(&explanation, print::use_colour());
    }
    Ok(ExitCode::SUCCESS)
}

/// The texts of a file, one per non-empty line; in a .tsv file each line is
/// `label<TAB>text` and only the text is taken.
fn read_texts(path: &std::path::Path) -> Result<Vec<String>> {
    let content = std::fs::read_to_string(path)
        .map_err(|e| Error::BadFile { file: path.display().to_string(), reason: e.to_string() })?;
    let tsv = path.extension().is_some_and(|e| e == "tsv");
    Ok(content
        .lines()
        .map(|line| if tsv { line.split_once('\t').map_or(line, |(_, text)| text) } else { line })
        .filter(|line| !line.trim().is_empty())
        .map(str::to_string)
        .collect())
}

fn eval(args: EvalArgs) -> Result<ExitCode> {
    let base = args.params.to_options()?;
    let methods = match &args.methods {
        Some(list) => list.split(',').map(|m| Method::parse(m.trim())).collect::<Result<Vec<_>>>()?,
        None => Method::ALL.to_vec(),
    };
    let mut texts = read_texts(&args.texts)?;
    if let Some(limit) = args.limit {
        texts.truncate(limit);
    }
    if texts.is_empty() {
        return Err(Error::Input(format!("{} holds no texts", args.texts.display())));
    }
    let explainer = explainer(&args.model)?;
    let table = evaluate(&explainer, &texts, &methods, &base, |done, total| {
        eprint!("\r{done}/{total} texts");
        let _ = std::io::stderr().flush();
    })?;
    eprintln!();
    if args.json {
        print::json(&table)?;
    } else {
        print::eval_table(&table);
    }
    Ok(ExitCode::SUCCESS)
}

fn grads(args: GradsArgs) -> Result<ExitCode> {
    let model = load(&args.model)?;
    let tokens = model.text.encode(&args.text)?;
    let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
    let classes = model.labels.len();
    let target = args.target;
    let lg = layer_gradients(&model, &ids, |logits| match target {
        Some(c) if c >= classes => Err(Error::Option {
            option: "--target".into(),
            reason: format!("class {c} does not exist (the model has {classes} classes: 0..{})", classes - 1),
        }),
        Some(c) => Ok(Objective { class: c, contrast: None }),
        None => Ok(Objective { class: argmax(logits), contrast: None }),
    })?;
    let decoded = decode_layers(&model.decoder, &lg.hidden, 5)?;
    print::grads_json(&model, &tokens, &lg, &decoded)?;
    Ok(ExitCode::SUCCESS)
}
