"""HuggingFaceModel: save_pretrained round trips of tiny local models, nothing downloaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # set before transformers is imported: no hub access

import numpy as np
import onnx
import tokenizers
import torch
import transformers

from opsml.card import CardRegistry, ModelCard, RegistryType
from opsml.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    SerializationError,
    UnsupportedTypeError,
)
from opsml.interfaces import resolve_interface
from opsml.model import (
    DataType,
    HuggingFaceModel,
    HuggingFaceOnnxArgs,
    HuggingFaceORTModel,
    HuggingFaceTask,
    ModelInterfaceMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    ProcessorType,
)

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "the", "cat", "sat"]
TEXTS = ["hello world", "the cat sat", "cat"]


class TinyBert(transformers.BertForSequenceClassification):
    """A model class that is not part of transformers."""


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    vocab = {word: i for i, word in enumerate(WORDS)}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def _bert(model_cls: Any = transformers.BertForSequenceClassification) -> Any:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(WORDS),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=16,
        num_labels=2,
    )
    return model_cls(config).eval()


@pytest.fixture(scope="module")
def model() -> Any:
    return _bert()


@pytest.fixture(scope="module")
def batch(tokenizer: Any) -> Any:
    return tokenizer(TEXTS, return_tensors="pt", padding=True)


def _logits(model: Any, batch: Any) -> Any:
    with torch.no_grad():
        return model(**batch).logits


def _round_trip(
    interface: HuggingFaceModel, path: Path, load_kwargs: ModelLoadKwargs | None = None
) -> tuple[HuggingFaceModel, ModelInterfaceMetadata]:
    save_metadata = interface.save(path)
    stored = interface.get_interface_metadata(save_metadata).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    assert isinstance(loaded, HuggingFaceModel)
    loaded.load(path, metadata.save_metadata, load_kwargs)
    return loaded, metadata


def test_model_and_tokenizer_round_trip(
    model: Any, tokenizer: Any, batch: Any, tmp_path: Path
) -> None:
    interface = HuggingFaceModel(
        model=model,
        tokenizer=tokenizer,
        sample_data=batch,
        hf_task=HuggingFaceTask.TextClassification,
    )

    loaded, metadata = _round_trip(interface, tmp_path)

    assert type(loaded.model) is transformers.BertForSequenceClassification
    assert not loaded.model.training
    assert torch.equal(_logits(loaded.model, batch), _logits(model, batch))
    assert loaded.tokenizer(TEXTS)["input_ids"] == tokenizer(TEXTS)["input_ids"]
    # The batch comes back as itself, each tensor cut to its first row (as in OpsML 3).
    assert isinstance(loaded.sample_data, transformers.BatchEncoding)
    assert all(torch.equal(loaded.sample_data[k], v[:1]) for k, v in batch.items())
    assert loaded.hf_task is HuggingFaceTask.TextClassification
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "sample-data.pt", "tokenizer"]
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert metadata.save_metadata.model_uri == Path("model")
    processor = metadata.save_metadata.data_processor_map["tokenizer"]
    assert (processor.uri, processor.type) == (Path("tokenizer"), ProcessorType.Tokenizer)
    assert metadata.model_type is ModelType.Pytorch
    assert metadata.data_type is DataType.TransformerBatch
    assert list(metadata.schema) == list(batch) == ["input_ids", "attention_mask"]
    specific = metadata.model_specific_metadata
    assert specific["hf_model_type"] == "BertForSequenceClassification"
    assert specific["hf_task"] == "TextClassification"
    assert specific["has_tokenizer"] is True
    assert specific["is_pipeline"] is False
    assert specific["transformers_version"] == transformers.__version__


def test_pipeline_round_trip(model: Any, tokenizer: Any, tmp_path: Path) -> None:
    pipe = transformers.pipeline("text-classification", model=model, tokenizer=tokenizer)
    interface = HuggingFaceModel(model=pipe, sample_data=TEXTS)
    assert interface.hf_task is HuggingFaceTask.TextClassification

    loaded, metadata = _round_trip(interface, tmp_path)

    assert isinstance(loaded.model, transformers.TextClassificationPipeline)
    assert loaded.model(TEXTS) == pipe(TEXTS)
    assert loaded.sample_data == TEXTS
    assert metadata.data_type is DataType.List
    assert metadata.model_specific_metadata["is_pipeline"] is True
    with pytest.raises(InvalidArgumentError, match="holds a pipeline"):
        HuggingFaceModel().load(
            tmp_path, metadata.save_metadata, ModelLoadKwargs(model={"model": type(model)})
        )
    with pytest.raises(SerializationError, match="cannot convert a pipeline"):
        interface.save(tmp_path / "onnx", ModelSaveKwargs(save_onnx=True))


def test_feature_extractor_and_image_processor_round_trip(model: Any, tmp_path: Path) -> None:
    extractor = transformers.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=8000)
    processor = transformers.ViTImageProcessorPil(size={"height": 8, "width": 8})
    interface = HuggingFaceModel(
        model=model, feature_extractor=extractor, image_processor=processor
    )

    loaded, metadata = _round_trip(interface, tmp_path)

    assert type(loaded.feature_extractor) is type(extractor)
    assert loaded.feature_extractor.sampling_rate == 8000
    assert type(loaded.image_processor) is type(processor)
    assert loaded.image_processor.size == processor.size
    assert loaded.tokenizer is None
    assert {p.name for p in tmp_path.iterdir()} == {"model", "feature-extractor", "image-processor"}
    assert metadata.save_metadata.data_processor_map["image_processor"].type == "ImageProcessor"


def test_a_class_outside_transformers_is_passed_at_load(batch: Any, tmp_path: Path) -> None:
    model = _bert(TinyBert)
    save_metadata = HuggingFaceModel(model=model).save(tmp_path)

    with pytest.raises(SerializationError, match="TinyBert is not a transformers class"):
        HuggingFaceModel().load(tmp_path, save_metadata)

    loaded = HuggingFaceModel()
    loaded.load(tmp_path, save_metadata, ModelLoadKwargs(model={"model": TinyBert}))
    assert type(loaded.model) is TinyBert
    assert torch.equal(_logits(loaded.model, batch), _logits(model, batch))


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
@pytest.mark.filterwarnings("ignore:Exporting aten.+ operator of advanced indexing:UserWarning")
def test_registered_model_loads_back_with_onnx(
    both_modes_registry_env: Path, model: Any, tokenizer: Any, batch: Any
) -> None:
    registry = CardRegistry(RegistryType.Model)
    interface = HuggingFaceModel(model=model, tokenizer=tokenizer, sample_data=TEXTS[0])
    card = ModelCard(interface=interface, space="team-a", name="bert")
    onnx_args = HuggingFaceOnnxArgs(ort_type=HuggingFaceORTModel.OrtSequenceClassification)
    registry.register_card(card, save_kwargs=ModelSaveKwargs(onnx=onnx_args))

    loaded = registry.load_card(uid=card.uid)
    loaded.load(load_kwargs=ModelLoadKwargs(load_onnx=True))

    expected = _logits(model, batch)
    assert torch.equal(_logits(loaded.model, batch), expected)
    assert loaded.interface.sample_data == TEXTS[0]
    session = loaded.onnx_session
    assert session.input_names == list(batch)
    assert session.output_names == ["logits"]
    (logits,) = session.run({k: v.numpy() for k, v in batch.items()})
    np.testing.assert_allclose(logits, expected.numpy(), atol=1e-4)


def test_wrong_objects_are_rejected_at_construction(model: Any, tokenizer: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="expects a transformers PreTrainedModel"):
        HuggingFaceModel(model=torch.nn.Linear(1, 1))
    with pytest.raises(InvalidArgumentError, match="tokenizer must be a transformers"):
        HuggingFaceModel(model=model, tokenizer="bert-base-uncased")
    with pytest.raises(InvalidArgumentError, match="image_processor must be"):
        HuggingFaceModel(model=model, image_processor=tokenizer)
    with pytest.raises(InvalidArgumentError, match="unknown hf_task"):
        HuggingFaceModel(model=model, hf_task="guessing")
    with pytest.raises(UnsupportedTypeError) as wrong_config:
        HuggingFaceOnnxArgs(ort_type="OrtSequenceClassification", quantize=True, config="fail")
    assert isinstance(wrong_config.value, RuntimeError)  # what OpsML 3 raises, with its words
    assert str(wrong_config.value) == (
        "Config must be an instance of AutoQuantizationConfig, ORTConfig, or QuantizationConfig"
    )


class QuantizationConfig:
    """Stands for optimum's (optimum is not an opsml dependency): same class name, module
    and the attributes opsml reads."""

    __module__ = "optimum.onnxruntime.configuration"

    def __init__(self, is_static: bool = False, per_channel: bool = False) -> None:
        self.is_static = is_static
        self.per_channel = per_channel
        self.weights_dtype = "QuantType.QInt8"


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
@pytest.mark.filterwarnings("ignore:Exporting aten.+ operator of advanced indexing:UserWarning")
@pytest.mark.parametrize(
    "config", [None, QuantizationConfig(per_channel=True)], ids=["default", "config"]
)
def test_quantized_onnx_export(
    model: Any, tokenizer: Any, batch: Any, config: Any, tmp_path: Path
) -> None:
    interface = HuggingFaceModel(model=model, tokenizer=tokenizer, sample_data=TEXTS[0])
    args = HuggingFaceOnnxArgs(
        ort_type=HuggingFaceORTModel.OrtSequenceClassification, quantize=True, config=config
    )
    assert args.quantize is True

    interface.save(tmp_path, ModelSaveKwargs(onnx=args))

    proto = onnx.load(str(tmp_path / "onnx-model.onnx"))
    assert "DynamicQuantizeLinear" in {node.op_type for node in proto.graph.node}
    (logits,) = interface.onnx_session.run({k: v.numpy() for k, v in batch.items()})  # type: ignore[union-attr]
    np.testing.assert_allclose(logits, _logits(model, batch).numpy(), atol=0.05)
    static = HuggingFaceOnnxArgs(
        ort_type="OrtSequenceClassification",
        quantize=True,
        config=QuantizationConfig(is_static=True),
    )
    with pytest.raises(SerializationError, match="static quantization needs calibration data"):
        interface.save(tmp_path / "static", ModelSaveKwargs(onnx=static))


def test_hugging_face_task_reads_pipeline_spelling() -> None:
    assert HuggingFaceTask("text-classification") is HuggingFaceTask.TextClassification
    assert HuggingFaceTask("text2text-generation") is HuggingFaceTask.Text2TextGeneration
    assert HuggingFaceTask("translation_xx_to_yy") is HuggingFaceTask.TranslationXxToYy
    assert HuggingFaceTask.from_string("image-text-to-text") is None


def test_missing_transformers_names_the_extra(
    model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_metadata = HuggingFaceModel(model=model).save(tmp_path)
    monkeypatch.setitem(sys.modules, "transformers", None)

    with pytest.raises(MissingDependencyError) as at_construction:
        HuggingFaceModel(model=model)
    with pytest.raises(MissingDependencyError) as at_load:
        HuggingFaceModel().load(tmp_path, save_metadata)

    for info in (at_construction, at_load):
        assert info.value.extra == "huggingface"
        assert "opsml[huggingface]" in str(info.value)
