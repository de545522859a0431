"""details: the book's facts, as Bookinfo's details service answers them."""

from .service import Answer

BOOK = {
    "id": 0,
    "author": "William Shakespeare",
    "year": 1595,
    "type": "paperback",
    "pages": 200,
    "publisher": "PublisherA",
    "language": "English",
    "ISBN-10": "1234567890",
    "ISBN-13": "123-1234567890",
}


def routes() -> dict:
    return {"/details/": lambda path: Answer(200, BOOK)}
