//! `saliency`: the command-line face of the library. Reads files, calls the library,
//! prints. Exit status 0 on success, 2 on any error (its cause chain on stderr).

mod args;
mod model_dir;
mod print;

use args::{Cli, Command, GradsArgs};
use clap::Parser;
use layer_saliency::gradients::{argmax, layer_gradients, Objective};
use layer_saliency::model::Model;
use layer_saliency::saliency::decode::decode_layers;
use layer_saliency::{Error, Result};
use model_dir::ModelDir;
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
        Command::Grads(args) => grads(args),
    }
}

fn load(args: &args::ModelArgs) -> Result<Model> {
    let dir = ModelDir::read(&args.model, args.lm_head.as_deref())?;
    Model::load(&dir.files())
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
