"""Enumerations describing what an interface holds, with OpsML 3 member names.

Values equal the member names (``DataType.Pandas.value == "Pandas"``), which is how OpsML 3
writes them to JSON. Like every opsml enum they are ``str`` enums and can be built from a
value or a member name, case-insensitively: ``TaskType("classification")``,
``ModelType("SklearnPipeline")``.
"""

from __future__ import annotations

from typing import Any

from opsml.types import NamedStrEnum

__all__ = [
    "ColValType",
    "DataInterfaceType",
    "DataType",
    "HuggingFaceORTModel",
    "HuggingFaceTask",
    "ModelInterfaceType",
    "ModelType",
    "ProcessorType",
    "TaskType",
]


class DataType(NamedStrEnum):
    """The kind of object a data interface (or a model's sample data) holds."""

    Pandas = "Pandas"
    Arrow = "Arrow"
    Polars = "Polars"
    Numpy = "Numpy"
    Image = "Image"
    Text = "Text"
    Dict = "Dict"
    Sql = "Sql"
    Profile = "Profile"
    TransformerBatch = "TransformerBatch"
    String = "String"
    TorchTensor = "TorchTensor"
    TorchDataset = "TorchDataset"
    TensorFlowTensor = "TensorFlowTensor"
    Tuple = "Tuple"
    List = "List"
    Str = "Str"
    OrderedDict = "OrderedDict"
    Joblib = "Joblib"
    Base = "Base"
    Dataset = "Dataset"
    DMatrix = "DMatrix"
    NotProvided = "NotProvided"


class TaskType(NamedStrEnum):
    """The machine-learning task a model performs."""

    Classification = "Classification"
    Regression = "Regression"
    Clustering = "Clustering"
    AnomalyDetection = "AnomalyDetection"
    Optimization = "Optimization"
    TimeSeries = "TimeSeries"
    Forecasting = "Forecasting"
    Recommendation = "Recommendation"
    Ranking = "Ranking"
    Nlp = "Nlp"
    NLP = "Nlp"  # alias: OpsML 3's stubs spell it NLP, its runtime Nlp
    Image = "Image"
    Audio = "Audio"
    Video = "Video"
    Graph = "Graph"
    Tabular = "Tabular"
    TimeSeriesForecasting = "TimeSeriesForecasting"
    TimeSeriesAnomalyDetection = "TimeSeriesAnomalyDetection"
    TimeSeriesClassification = "TimeSeriesClassification"
    TimeSeriesRegression = "TimeSeriesRegression"
    TimeSeriesClustering = "TimeSeriesClustering"
    TimeSeriesRecommendation = "TimeSeriesRecommendation"
    TimeSeriesRanking = "TimeSeriesRanking"
    TimeSeriesNLP = "TimeSeriesNLP"
    TimeSeriesImage = "TimeSeriesImage"
    TimeSeriesAudio = "TimeSeriesAudio"
    TimeSeriesVideo = "TimeSeriesVideo"
    TimeSeriesGraph = "TimeSeriesGraph"
    TimeSeriesTabular = "TimeSeriesTabular"
    Undefined = "Undefined"


class ModelType(NamedStrEnum):
    """The library-level kind of a model, as recorded in its card."""

    Transformers = "Transformers"
    SklearnPipeline = "SklearnPipeline"
    SklearnEstimator = "SklearnEstimator"
    StackingRegressor = "StackingRegressor"
    StackingClassifier = "StackingClassifier"
    StackingEstimator = "StackingEstimator"
    CalibratedClassifier = "CalibratedClassifier"
    LgbmRegressor = "LgbmRegressor"
    LgbmClassifier = "LgbmClassifier"
    XgbRegressor = "XgbRegressor"
    XgbClassifier = "XgbClassifier"
    XgbBooster = "XgbBooster"
    LgbmBooster = "LgbmBooster"
    TfKeras = "TfKeras"
    TensorFlow = "TensorFlow"
    Pytorch = "Pytorch"
    PytorchLightning = "PytorchLightning"
    Catboost = "Catboost"
    Vowpal = "Vowpal"
    Onnx = "Onnx"
    Unknown = "Unknown"


class HuggingFaceTask(NamedStrEnum):
    """The transformers pipeline task of a HuggingFace model.

    Also built from the pipeline's own spelling: ``HuggingFaceTask("text-classification")``
    is ``HuggingFaceTask.TextClassification``.
    """

    AudioClassification = "AudioClassification"
    AutomaticSpeechRecognition = "AutomaticSpeechRecognition"
    Conversational = "Conversational"
    DepthEstimation = "DepthEstimation"
    DocumentQuestionAnswering = "DocumentQuestionAnswering"
    FeatureExtraction = "FeatureExtraction"
    FillMask = "FillMask"
    ImageClassification = "ImageClassification"
    ImageSegmentation = "ImageSegmentation"
    ImageToImage = "ImageToImage"
    ImageToText = "ImageToText"
    MaskGeneration = "MaskGeneration"
    ObjectDetection = "ObjectDetection"
    QuestionAnswering = "QuestionAnswering"
    Summarization = "Summarization"
    TableQuestionAnswering = "TableQuestionAnswering"
    Text2TextGeneration = "Text2TextGeneration"
    TextClassification = "TextClassification"
    TextGeneration = "TextGeneration"
    TextToAudio = "TextToAudio"
    TokenClassification = "TokenClassification"
    Translation = "Translation"
    TranslationXxToYy = "TranslationXxToYy"
    VideoClassification = "VideoClassification"
    VisualQuestionAnswering = "VisualQuestionAnswering"
    ZeroShotClassification = "ZeroShotClassification"
    ZeroShotImageClassification = "ZeroShotImageClassification"
    ZeroShotAudioClassification = "ZeroShotAudioClassification"
    ZeroShotObjectDetection = "ZeroShotObjectDetection"
    Undefined = "Undefined"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            wanted = value.strip().lower().replace("-", "").replace("_", "")
            for member in cls:
                if wanted == member.value.lower():
                    return member
        return None


class HuggingFaceORTModel(NamedStrEnum):
    """The optimum ONNX Runtime class a HuggingFace model converts to (OpsML 3 names)."""

    OrtAudioClassification = "OrtAudioClassification"
    OrtAudioFrameClassification = "OrtAudioFrameClassification"
    OrtAudioXVector = "OrtAudioXVector"
    OrtCustomTasks = "OrtCustomTasks"
    OrtCtc = "OrtCtc"
    OrtFeatureExtraction = "OrtFeatureExtraction"
    OrtImageClassification = "OrtImageClassification"
    OrtMaskedLm = "OrtMaskedLm"
    OrtMultipleChoice = "OrtMultipleChoice"
    OrtQuestionAnswering = "OrtQuestionAnswering"
    OrtSemanticSegmentation = "OrtSemanticSegmentation"
    OrtSequenceClassification = "OrtSequenceClassification"
    OrtTokenClassification = "OrtTokenClassification"
    OrtSeq2SeqLm = "OrtSeq2SeqLm"
    OrtSpeechSeq2Seq = "OrtSpeechSeq2Seq"
    OrtVision2Seq = "OrtVision2Seq"
    OrtPix2Struct = "OrtPix2Struct"
    OrtCausalLm = "OrtCausalLm"
    OrtOptimizer = "OrtOptimizer"
    OrtQuantizer = "OrtQuantizer"
    OrtTrainer = "OrtTrainer"
    OrtSeq2SeqTrainer = "OrtSeq2SeqTrainer"
    OrtTrainingArguments = "OrtTrainingArguments"
    OrtSeq2SeqTrainingArguments = "OrtSeq2SeqTrainingArguments"
    OrtStableDiffusionPipeline = "OrtStableDiffusionPipeline"
    OrtStableDiffusionImg2ImgPipeline = "OrtStableDiffusionImg2ImgPipeline"
    OrtStableDiffusionInpaintPipeline = "OrtStableDiffusionInpaintPipeline"
    OrtStableDiffusionXlPipeline = "OrtStableDiffusionXlPipeline"
    OrtStableDiffusionXlImg2ImgPipeline = "OrtStableDiffusionXlImg2ImgPipeline"


class ProcessorType(NamedStrEnum):
    """The role of a model's saved data processor (``DataProcessor.type``)."""

    Preprocessor = "Preprocessor"
    Tokenizer = "Tokenizer"
    FeatureExtractor = "FeatureExtractor"
    ImageProcessor = "ImageProcessor"


class ModelInterfaceType(NamedStrEnum):
    """The family of a model interface (OpsML 3 names)."""

    Base = "Base"
    Sklearn = "Sklearn"
    CatBoost = "CatBoost"
    HuggingFace = "HuggingFace"
    LightGBM = "LightGBM"
    Lightning = "Lightning"
    Torch = "Torch"
    TensorFlow = "TensorFlow"
    VowpalWabbit = "VowpalWabbit"
    XGBoost = "XGBoost"
    Onnx = "Onnx"


class DataInterfaceType(NamedStrEnum):
    """The family of a data interface (OpsML 3 names)."""

    Base = "Base"
    Arrow = "Arrow"
    Numpy = "Numpy"
    Pandas = "Pandas"
    Polars = "Polars"
    Sql = "Sql"
    Torch = "Torch"


class ColValType(NamedStrEnum):
    """The kind of value a ``ColumnSplit`` compares its column with."""

    String = "String"
    Float = "Float"
    Int = "Int"
    Timestamp = "Timestamp"
