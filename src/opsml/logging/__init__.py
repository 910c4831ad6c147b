"""OpsML 3 compatible logging names (``RustyLogger``), built on the standard ``logging`` module."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["LogLevel", "LoggingConfig", "RustyLogger", "WriteLevel"]

_LOGGER_NAME = "opsml"


class LogLevel(StrEnum):
    """Log levels."""

    Trace = "trace"
    Debug = "debug"
    Info = "info"
    Warn = "warn"
    Error = "error"

    @property
    def stdlib(self) -> int:
        """The matching ``logging`` level number."""
        return {
            LogLevel.Trace: 5,
            LogLevel.Debug: logging.DEBUG,
            LogLevel.Info: logging.INFO,
            LogLevel.Warn: logging.WARNING,
            LogLevel.Error: logging.ERROR,
        }[self]


class WriteLevel(StrEnum):
    """Where log lines go."""

    Stdout = "stdout"
    Stderror = "stderr"


@dataclass
class LoggingConfig:
    """How opsml logs.

    Attributes:
        show_threads: Include the thread name in each line.
        log_level: Minimum level written.
        write_level: Standard output or standard error.
        use_json: One JSON object per line instead of text.
    """

    show_threads: bool = True
    log_level: LogLevel = LogLevel.Info
    write_level: WriteLevel = WriteLevel.Stdout
    use_json: bool = False

    @staticmethod
    def json_default() -> LoggingConfig:
        """JSON lines at info level on standard output."""
        return LoggingConfig(use_json=True)

    @staticmethod
    def default() -> LoggingConfig:
        """Text lines at info level on standard output."""
        return LoggingConfig()


class _JsonFormatter(logging.Formatter):
    def __init__(self, show_threads: bool) -> None:
        super().__init__()
        self.show_threads = show_threads

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "target": record.name,
            "message": record.getMessage(),
        }
        if self.show_threads:
            payload["thread"] = record.threadName
        return json.dumps(payload)


class RustyLogger:
    """The OpsML 3 logger API on top of ``logging.getLogger("opsml")``."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    @staticmethod
    def setup_logging(config: LoggingConfig | None = None) -> None:
        """Configure the ``opsml`` logger (replaces handlers set by an earlier call)."""
        cfg = config or LoggingConfig()
        logger = logging.getLogger(_LOGGER_NAME)
        logger.setLevel(cfg.log_level.stdlib)
        stream = sys.stdout if cfg.write_level is WriteLevel.Stdout else sys.stderr
        handler = logging.StreamHandler(stream)
        if cfg.use_json:
            handler.setFormatter(_JsonFormatter(cfg.show_threads))
        else:
            thread = " [%(threadName)s]" if cfg.show_threads else ""
            handler.setFormatter(
                logging.Formatter(f"%(asctime)s %(levelname)s{thread} %(name)s: %(message)s")
            )
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False

    @staticmethod
    def get_logger(config: LoggingConfig | None = None) -> RustyLogger:
        """Return the opsml logger, configuring it first when ``config`` is given."""
        if config is not None:
            RustyLogger.setup_logging(config)
        return RustyLogger(logging.getLogger(_LOGGER_NAME))

    def trace(self, message: str, *args: Any) -> None:
        """Log at trace level (below debug)."""
        self._logger.log(5, message, *args)

    def debug(self, message: str, *args: Any) -> None:
        """Log at debug level."""
        self._logger.debug(message, *args)

    def info(self, message: str, *args: Any) -> None:
        """Log at info level."""
        self._logger.info(message, *args)

    def warn(self, message: str, *args: Any) -> None:
        """Log at warning level."""
        self._logger.warning(message, *args)

    warning = warn

    def error(self, message: str, *args: Any) -> None:
        """Log at error level."""
        self._logger.error(message, *args)
