"""Enumerations with OpsML 3 compatible member names.

Each enum is a ``str`` enum so it serialises as its value, and each can be built from
its value or (case-insensitively) from its member name: ``VersionType("major")``,
``RegistryType("Model")``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "CommonKwargs",
    "NamedStrEnum",
    "RegistryMode",
    "RegistryType",
    "SaveName",
    "Suffix",
    "VersionType",
]


class NamedStrEnum(StrEnum):
    """A str enum that also accepts member names, case-insensitively."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            wanted = value.strip().lower().replace("-", "_")
            for member in cls:
                if wanted in (member.value.lower(), member.name.lower()):
                    return member
        return None

    @classmethod
    def from_string(cls, value: str) -> Any:
        """Return the member for ``value`` (its value or name), or ``None``."""
        try:
            return cls(value)
        except ValueError:
            return None

    def as_string(self) -> str:
        """Return the member's string value."""
        return str(self.value)

    def __str__(self) -> str:
        return str(self.value)


class VersionType(NamedStrEnum):
    """How to bump a card's version at registration (SPEC §4)."""

    Major = "major"
    Minor = "minor"
    Patch = "patch"
    Pre = "pre"
    Build = "build"
    PreBuild = "pre_build"

    def __str__(self) -> str:
        """``VersionType.Major``, as OpsML 3 prints it (``.value`` is ``"major"``)."""
        return f"VersionType.{self.name}"


class ServiceType(NamedStrEnum):
    """What a ServiceCard deploys: an HTTP API, an MCP server or an agent."""

    Api = "Api"
    Mcp = "Mcp"
    Agent = "Agent"


class RegistryType(NamedStrEnum):
    """The registry a card belongs to. ``Deck`` is the former name of ``Service``."""

    Data = "data"
    Model = "model"
    Experiment = "experiment"
    Prompt = "prompt"
    Service = "service"
    Audit = "audit"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("deck", "card_deck", "carddeck"):
            return cls.Service
        return super()._missing_(value)

    @property
    def table_name(self) -> str:
        """The SQL table (and storage folder) of this registry."""
        return f"opsml_{self.value}_registry"


# ``RegistryType.Deck`` is an alias of ``RegistryType.Service`` (the design's earlier name).
type.__setattr__(RegistryType, "Deck", RegistryType.Service)


class RegistryMode(NamedStrEnum):
    """Where a registry's metadata and artifacts live, as seen from this process."""

    Server = "server"
    """Local mode: this process talks to the database and storage directly."""
    Client = "client"
    """Client mode: this process talks to an opsml server over HTTP."""


class SaveName(NamedStrEnum):
    """Fixed file and folder names inside a card version's storage folder."""

    Card = "card"
    Audit = "audit"
    Artifacts = "artifacts"
    CardMap = "card_map"
    Code = "code"
    Data = "data"
    DataProfile = "data-profile"
    Dataset = "dataset"
    Drift = "drift"
    DriftProfile = "drift-profile"
    FeatureExtractor = "feature-extractor"
    Figures = "figures"
    Graphs = "graphs"
    ImageProcessor = "image-processor"
    Metadata = "metadata"
    Model = "model"
    ModelMetadata = "model-metadata"
    OnnxConfig = "onnx-config"
    OnnxModel = "onnx-model"
    Preprocessor = "preprocessor"
    Profile = "profile"
    Prompt = "prompt"
    QuantizedModel = "quantized-model"
    ReadMe = "README"
    SampleModelData = "sample-data"
    ServiceCard = "service"
    Sql = "sql"
    Tokenizer = "tokenizer"


class Suffix(NamedStrEnum):
    """File suffixes (without the dot) used by the interfaces."""

    Bin = "bin"
    Catboost = "cbm"
    Ckpt = "ckpt"
    Dmatrix = "dmatrix"
    Empty = ""
    Html = "html"
    Joblib = "joblib"
    Json = "json"
    Jsonl = "jsonl"
    Keras = "keras"
    Md = "md"
    Model = "model"
    Numpy = "npy"
    Npz = "npz"
    Onnx = "onnx"
    Parquet = "parquet"
    Pt = "pt"
    Sql = "sql"
    Text = "txt"
    Zarr = "zarr"


class CommonKwargs(NamedStrEnum):
    """Common keys used in interface metadata."""

    Backend = "backend"
    BaseVersion = "0.0.0"
    DataType = "data_type"
    FeatureExtractor = "feature_extractor"
    FeatureExtractorName = "feature_extractor_name"
    Image = "image"
    IsPipeline = "is_pipeline"
    LoadType = "load_type"
    Model = "model"
    ModelArch = "model_arch"
    ModelClass = "model_class"
    ModelType = "model_type"
    Onnx = "onnx"
    Preprocessor = "preprocessor"
    PreprocessorName = "preprocessor_name"
    Pytorch = "pytorch"
    SampleData = "sample_data"
    SampleDataInterfaceType = "sample_data_interface_type"
    TaskType = "task_type"
    Tensorflow = "tensorflow"
    Text = "text"
    Tokenizer = "tokenizer"
    TokenizerName = "tokenizer_name"
    Undefined = "undefined"
    VowpalArgs = "arguments"
