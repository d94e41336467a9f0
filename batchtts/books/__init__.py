"""Books in, a manifest out: ``batchtts import`` reads an EPUB, Markdown, HTML or text book.

The path of a book: ``load`` picks the reader by the file's suffix (``epub``, ``markdown``,
``html_book``, ``plaintext``); each reader turns the book into ``Block``\\ s of clean text
(``html_text`` for (X)HTML, ``blocks`` for the rules every block's text meets) and ``Mark``\\ s
where chapters may start (the book's navigation, or its headings); ``chapters`` cuts the blocks at
the marks, and ``matter`` decides which stretches are not prose (a contents page, a licence, a
copyright page, an index) and says why. ``write`` lays out the import folder: the manifest, one
text file per chapter, the cover, an optional sample manifest, and the table the command prints.

The parsers (lxml, markdown-it-py) are the optional ``books`` extra, imported only by the readers.
"""
