"""Documents people send: which types the model can read, and the limits on them."""

from __future__ import annotations

import mimetypes
from pathlib import PurePath

#: Extension -> MIME type of the documents handed to the model (Responses ``input_file``).
DOCUMENT_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".md": "text/markdown",
    ".json": "application/json",
    ".html": "text/html",
    ".xml": "application/xml",
}
#: Types whose bytes are text (chat mode inlines them).
TEXT_TYPES = frozenset(
    {"text/plain", "text/csv", "text/markdown", "application/json", "text/html", "application/xml"}
)
#: Spreadsheets: read by code interpreter, not by file search (assistants attachments).
TABLE_TYPES = frozenset({"text/csv", DOCUMENT_TYPES[".xlsx"]})
#: Characters of a text document inlined into a chat-mode message.
INLINE_CHARS = 20_000


def document_type(file_name: str | None, mimetype: str) -> str | None:
    """The MIME type the model gets for a document, or None when it cannot read the type."""
    suffix = PurePath(file_name or "").suffix.lower()
    if suffix in DOCUMENT_TYPES:
        return DOCUMENT_TYPES[suffix]
    base = mimetype.partition(";")[0].strip().lower()
    if base in DOCUMENT_TYPES.values():
        return base
    return None


def file_name_for(file_name: str | None, mimetype: str) -> str:
    """A file name with an extension the server recognises."""
    if file_name and PurePath(file_name).suffix:
        return file_name
    extension = mimetypes.guess_extension(mimetype) or ".bin"
    return f"{file_name or 'document'}{extension}"
