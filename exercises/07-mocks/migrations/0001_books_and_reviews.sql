-- Books and their reviews. `review_count` and `rating_sum` are kept up to date
-- in the same statement that inserts or deletes a review, so reading a book
-- (the hot path) is a primary-key lookup with no aggregate over reviews.
CREATE TABLE books (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title          TEXT NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    author         TEXT NOT NULL CHECK (char_length(author) BETWEEN 1 AND 200),
    -- UNIQUE allows many NULLs: books without an ISBN do not collide.
    isbn           TEXT UNIQUE CHECK (isbn ~ '^97[89][0-9]{10}$'),
    published_year INTEGER CHECK (published_year BETWEEN -3000 AND 2100),
    review_count   BIGINT NOT NULL DEFAULT 0 CHECK (review_count >= 0),
    rating_sum     BIGINT NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE reviews (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Deleting a book deletes its reviews.
    book_id    BIGINT NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    rating     SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment    TEXT NOT NULL DEFAULT '' CHECK (char_length(comment) <= 2000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Serves "a book's reviews, newest first" without a sort.
CREATE INDEX reviews_book_id_created_at_idx ON reviews (book_id, created_at DESC, id DESC);
