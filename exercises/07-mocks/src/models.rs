//! The resources of the API, as stored and as sent, and the rules for input.
//! `openapi.yaml` describes the same types; keep both in step.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};

use crate::error::{ApiError, FieldError};

/// A book as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Book {
    pub id: i64,
    pub title: String,
    pub author: String,
    pub isbn: Option<String>,
    pub published_year: Option<i32>,
    /// Null while the book has no reviews.
    pub average_rating: Option<f64>,
    pub review_count: i64,
    pub created_at: DateTime<Utc>,
}

/// The body of `POST /books` and `PUT /books/{id}`. Fields are optional here
/// so that a missing field is reported by `validate` along with the others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookInput {
    pub title: Option<String>,
    pub author: Option<String>,
    pub isbn: Option<String>,
    #[serde(default, deserialize_with = "integer")]
    pub published_year: Option<i64>,
}

/// A `BookInput` that passed validation: trimmed, within bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBook {
    pub title: String,
    pub author: String,
    pub isbn: Option<String>,
    pub published_year: Option<i32>,
}

/// A review as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Review {
    pub id: i64,
    pub book_id: i64,
    pub rating: i16,
    pub comment: String,
    pub created_at: DateTime<Utc>,
}

/// The body of `POST /books/{id}/reviews`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    #[serde(default, deserialize_with = "integer")]
    pub rating: Option<i64>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub rating: i16,
    pub comment: String,
}

/// One page of a list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items match, on all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// `?limit=&offset=` on list endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// `?limit=&offset=&q=` on `GET /books`. (Not `#[serde(flatten)]` of
/// `PageQuery`: flattening makes serde parse numbers in query strings as text.)
#[derive(Debug, Default, Deserialize)]
pub struct BookQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub q: Option<String>,
}

/// Checked paging values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl PageQuery {
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}, not {limit}"
            )));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::BadRequest(format!(
                "offset must not be negative, not {offset}"
            )));
        }
        Ok(Paging { limit, offset })
    }
}

impl BookQuery {
    pub fn paging(&self) -> Result<Paging, ApiError> {
        PageQuery {
            limit: self.limit,
            offset: self.offset,
        }
        .paging()
    }

    /// The trimmed search text; `None` when absent or blank.
    pub fn search(&self) -> Result<Option<String>, ApiError> {
        let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) else {
            return Ok(None);
        };
        let raw = self.q.as_deref().unwrap_or_default();
        if raw.chars().count() > 200 || q.contains('\0') {
            return Err(ApiError::BadRequest(
                "q must be at most 200 characters, without NUL".into(),
            ));
        }
        Ok(Some(q.to_string()))
    }
}

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_COMMENT_CHARS: usize = 2000;
pub const YEARS: std::ops::RangeInclusive<i32> = -3000..=2100;

impl BookInput {
    /// Checks every field and reports all failures at once.
    pub fn validate(self) -> Result<NewBook, ApiError> {
        let mut errors = Vec::new();
        let title = required_text(&mut errors, "title", self.title, MAX_NAME_CHARS);
        let author = required_text(&mut errors, "author", self.author, MAX_NAME_CHARS);
        if let Some(isbn) = &self.isbn
            && !is_isbn13(isbn)
        {
            errors.push(FieldError::new(
                "isbn",
                "must be an ISBN-13: 13 digits starting with 978 or 979, with a valid check digit",
            ));
        }
        let published_year = self.published_year.and_then(|y| i32::try_from(y).ok());
        if self.published_year.is_some()
            && !published_year.is_some_and(|year| YEARS.contains(&year))
        {
            errors.push(FieldError::new(
                "published_year",
                format!("must be between {} and {}", YEARS.start(), YEARS.end()),
            ));
        }
        match (title, author) {
            (Some(title), Some(author)) if errors.is_empty() => Ok(NewBook {
                title,
                author,
                isbn: self.isbn,
                published_year,
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

impl ReviewInput {
    pub fn validate(self) -> Result<NewReview, ApiError> {
        let mut errors = Vec::new();
        let rating = match self.rating {
            None => {
                errors.push(FieldError::new("rating", "is required"));
                None
            }
            Some(rating @ 1..=5) => Some(rating as i16),
            Some(_) => {
                errors.push(FieldError::new("rating", "must be an integer from 1 to 5"));
                None
            }
        };
        let raw = self.comment.unwrap_or_default();
        let comment = raw.trim().to_string();
        if raw.chars().count() > MAX_COMMENT_CHARS {
            errors.push(FieldError::new(
                "comment",
                format!("must be at most {MAX_COMMENT_CHARS} characters"),
            ));
        } else if comment.contains('\0') {
            errors.push(FieldError::new(
                "comment",
                "must not contain NUL characters",
            ));
        }
        match rating {
            Some(rating) if errors.is_empty() => Ok(NewReview { rating, comment }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// An optional integer that also accepts `3.0`: JSON Schema, and so the
/// OpenAPI contract, calls that an integer, though serde's `i64` does not.
fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let integral = number.as_i64().or_else(|| {
        // Beyond 2^53 a float no longer holds every integer exactly.
        let float = number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)?;
        Some(float as i64)
    });
    integral
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("invalid value: {number}, expected an integer")))
}

/// A required, trimmed, non-blank text of at most `max` characters.
fn required_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    // The limit applies to the text as sent, as the OpenAPI schema says.
    let too_long = value
        .as_deref()
        .is_some_and(|raw| raw.chars().count() > max);
    let message = match value.as_deref().map(str::trim) {
        None => "is required".to_string(),
        Some(_) if too_long => format!("must be at most {max} characters"),
        Some("") => "must not be blank".to_string(),
        // PostgreSQL text cannot hold NUL; reject it here rather than fail in SQL.
        Some(text) if text.contains('\0') => "must not contain NUL characters".to_string(),
        Some(text) => return Some(text.to_string()),
    };
    errors.push(FieldError::new(field, message));
    None
}

/// 13 ASCII digits, prefix 978 or 979, and the ISBN-13 check digit: the
/// digits weighted 1, 3, 1, 3, ... sum to a multiple of 10.
pub fn is_isbn13(isbn: &str) -> bool {
    let digits = isbn.as_bytes();
    digits.len() == 13
        && digits.iter().all(u8::is_ascii_digit)
        && (isbn.starts_with("978") || isbn.starts_with("979"))
        && digits
            .iter()
            .enumerate()
            .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 1 } else { 3 })
            .sum::<u32>()
            % 10
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isbn13_check_digit() {
        assert!(is_isbn13("9781718503106"));
        assert!(is_isbn13("9780306406157"));
        assert!(!is_isbn13("9780306406158"), "wrong check digit");
        assert!(!is_isbn13("978-0306406157"), "separators are not accepted");
        assert!(!is_isbn13("1234567890128"), "must start with 978 or 979");
    }

    #[test]
    fn book_input_reports_every_failing_field() {
        let input = BookInput {
            title: Some("   ".into()),
            author: None,
            isbn: Some("123".into()),
            published_year: Some(99999),
        };
        let Err(ApiError::Validation(errors)) = input.validate() else {
            panic!("expected a validation error");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "author", "isbn", "published_year"]);
    }

    #[test]
    fn book_input_is_trimmed() {
        let input = BookInput {
            title: Some("  Dune ".into()),
            author: Some("Frank Herbert\n".into()),
            isbn: None,
            published_year: Some(1965),
        };
        let book = input.validate().unwrap();
        assert_eq!(
            (book.title.as_str(), book.author.as_str()),
            ("Dune", "Frank Herbert")
        );
    }
}
