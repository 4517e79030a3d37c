//! Parsing of Map states (Inline and Distributed).

use serde_json::Value;

use crate::ast::{ItemBatcher, ItemReader, MapState, Mode, NumberOrPath, ResultWriter};
use crate::error::AslError;
use crate::parse::definition::{check_query_language, parse_graph};
use crate::parse::fields::Fields;
use crate::path::Path;
use crate::payload::Template;

pub(crate) const MAP_FIELDS: &[&str] = &[
    "ItemsPath",
    "ItemSelector",
    "ItemProcessor",
    "Iterator",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ItemReader",
    "ItemBatcher",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Label",
    "ResultWriter",
];

pub(crate) const GET_OBJECT: &str = "arn:aws:states:::s3:getObject";
pub(crate) const PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

/// Reads `key` (a number) or `key + "Path"` (a reference path); not both.
fn number_or_path(f: &Fields<'_>, key: &str) -> Result<Option<NumberOrPath>, AslError> {
    let path_key = format!("{key}Path");
    match (f.get(key), f.str(&path_key)?) {
        (Some(_), Some(_)) => {
            Err(f.invalid(&path_key, format!("cannot be combined with \"{key}\"")))
        }
        (Some(v), None) => v
            .as_f64()
            .filter(|n| *n >= 0.0)
            .map(|n| Some(NumberOrPath::Number(n)))
            .ok_or_else(|| f.invalid(key, "must be a non-negative number")),
        (None, Some(p)) => Path::parse_reference(p)
            .map(|p| Some(NumberOrPath::Path(p)))
            .map_err(|e| f.invalid(&path_key, e)),
        (None, None) => Ok(None),
    }
}

fn template(f: &Fields<'_>, key: &str) -> Result<Option<Template>, AslError> {
    f.get(key)
        .map(|v| Template::parse(v).map_err(|e| f.invalid(key, e)))
        .transpose()
}

fn check_resource(f: &Fields<'_>, expected: &str) -> Result<(), AslError> {
    let resource = f.required_str("Resource")?;
    if resource != expected {
        return Err(f.unsupported_value("Resource", &Value::String(resource.to_owned())));
    }
    Ok(())
}

pub(crate) fn parse_map(f: &Fields<'_>) -> Result<MapState, AslError> {
    if f.has("ItemProcessor") && f.has("Iterator") {
        return Err(f.invalid("Iterator", "cannot be combined with \"ItemProcessor\""));
    }
    if f.has("ItemSelector") && f.has("Parameters") {
        return Err(f.invalid("Parameters", "cannot be combined with \"ItemSelector\""));
    }
    let (processor_fields, mode) = if let Some(p) = f.object(
        "ItemProcessor",
        &["ProcessorConfig", "StartAt", "States", "Comment"],
    )? {
        let mode = match p.object("ProcessorConfig", &["Mode", "ExecutionType"])? {
            None => Mode::Inline,
            Some(config) => {
                let mode = match config.str("Mode")? {
                    None | Some("INLINE") => Mode::Inline,
                    Some("DISTRIBUTED") => Mode::Distributed,
                    Some(other) => {
                        return Err(config.unsupported_value("Mode", &Value::String(other.into())));
                    }
                };
                match (mode, config.str("ExecutionType")?) {
                    (_, None) | (Mode::Distributed, Some("STANDARD" | "EXPRESS")) => {}
                    (Mode::Inline, Some(_)) => {
                        return Err(config
                            .invalid("ExecutionType", "is only allowed with Mode DISTRIBUTED"));
                    }
                    (_, Some(other)) => {
                        return Err(
                            config.unsupported_value("ExecutionType", &Value::String(other.into()))
                        );
                    }
                }
                mode
            }
        };
        (p, mode)
    } else if let Some(it) = f.object("Iterator", &["StartAt", "States", "Comment"])? {
        (it, Mode::Inline)
    } else {
        return Err(f.invalid("ItemProcessor", "is required"));
    };
    let processor = parse_graph(&processor_fields)?;

    if mode == Mode::Inline {
        for key in [
            "ItemReader",
            "ItemBatcher",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "Label",
            "ResultWriter",
        ] {
            if f.has(key) {
                return Err(f.invalid(
                    key,
                    "is only allowed in a Map with ProcessorConfig.Mode DISTRIBUTED",
                ));
            }
        }
    }

    let item_reader = match f.object("ItemReader", &["Resource", "ReaderConfig", "Parameters"])? {
        None => None,
        Some(r) => {
            if f.has("ItemsPath") {
                return Err(f.invalid("ItemsPath", "cannot be combined with \"ItemReader\""));
            }
            check_resource(&r, GET_OBJECT)?;
            let config = r
                .object("ReaderConfig", &["InputType", "MaxItems", "MaxItemsPath"])?
                .ok_or_else(|| r.invalid("ReaderConfig", "is required"))?;
            match config.required_str("InputType")? {
                "JSON" => {}
                other => {
                    return Err(config.unsupported_value("InputType", &Value::String(other.into())));
                }
            }
            let parameters = r
                .object("Parameters", &["Bucket", "Bucket.$", "Key", "Key.$"])?
                .ok_or_else(|| r.invalid("Parameters", "is required"))?;
            for key in ["Bucket", "Key"] {
                if parameters.has(key) == parameters.has(&format!("{key}.$")) {
                    return Err(parameters.invalid(
                        key,
                        "exactly one of the field or its \".$\" variant is required",
                    ));
                }
            }
            Some(ItemReader {
                parameters: template(&r, "Parameters")?
                    .ok_or_else(|| r.invalid("Parameters", "is required"))?,
                max_items: number_or_path(&config, "MaxItems")?,
            })
        }
    };

    let item_batcher = match f.object(
        "ItemBatcher",
        &[
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            "BatchInput",
        ],
    )? {
        None => None,
        Some(b) => {
            let batcher = ItemBatcher {
                max_items: number_or_path(&b, "MaxItemsPerBatch")?,
                max_bytes: number_or_path(&b, "MaxInputBytesPerBatch")?,
                batch_input: template(&b, "BatchInput")?,
            };
            if batcher.max_items.is_none() && batcher.max_bytes.is_none() {
                return Err(b.invalid(
                    "MaxItemsPerBatch",
                    "MaxItemsPerBatch or MaxInputBytesPerBatch is required",
                ));
            }
            Some(batcher)
        }
    };

    let result_writer =
        match f.object("ResultWriter", &["Resource", "Parameters", "WriterConfig"])? {
            None => None,
            Some(w) => {
                if w.has("WriterConfig") {
                    return Err(w.unsupported("WriterConfig"));
                }
                check_resource(&w, PUT_OBJECT)?;
                let parameters = w
                    .object("Parameters", &["Bucket", "Bucket.$", "Prefix", "Prefix.$"])?
                    .ok_or_else(|| w.invalid("Parameters", "is required"))?;
                if parameters.has("Bucket") == parameters.has("Bucket.$") {
                    return Err(parameters.invalid(
                        "Bucket",
                        "exactly one of the field or its \".$\" variant is required",
                    ));
                }
                Some(ResultWriter {
                    parameters: template(&w, "Parameters")?
                        .ok_or_else(|| w.invalid("Parameters", "is required"))?,
                })
            }
        };

    let items_path = match f.str("ItemsPath")? {
        None => Path::parse("$"),
        Some(p) => Path::parse_reference(p),
    }
    .map_err(|e| f.invalid("ItemsPath", e))?;

    let tolerated_percentage = number_or_path(f, "ToleratedFailurePercentage")?;
    if matches!(tolerated_percentage, Some(NumberOrPath::Number(p)) if p > 100.0) {
        return Err(f.invalid("ToleratedFailurePercentage", "must be between 0 and 100"));
    }
    check_query_language(f)?;
    Ok(MapState {
        mode,
        items_path,
        item_selector: match template(f, "ItemSelector")? {
            Some(t) => Some(t),
            None => template(f, "Parameters")?,
        },
        processor,
        max_concurrency: number_or_path(f, "MaxConcurrency")?,
        item_reader,
        item_batcher,
        tolerated_percentage,
        tolerated_count: number_or_path(f, "ToleratedFailureCount")?,
        label: f.str("Label")?.map(str::to_owned),
        result_writer,
    })
}
