//
// URLAccessors.swift
//
// DO NOT EDIT. Copied by `make generate` (tools/gen_swift.py); edit the source.
// Source: tools/swift-support/URLAccessors.swift (hand-written, not generated)
//
import Foundation

// Hand-written (not generated): `make generate` copies this file into the package.
// openapi-generator's swift6 maps `format: uri` to `String`; these accessors give the `URL`
// (the wire value stays a string, so the models round-trip unchanged).

extension User {
    /// `avatar_url` as a URL (nil when absent or not a URL).
    public var avatarURL: URL? { avatarUrl.flatMap { URL(string: $0) } }
}

extension Track {
    /// `image_url` as a URL (nil when absent or not a URL).
    public var imageURL: URL? { imageUrl.flatMap { URL(string: $0) } }
}

extension AddSongRequest {
    /// `image_url` as a URL (nil when absent or not a URL).
    public var imageURL: URL? { imageUrl.flatMap { URL(string: $0) } }
}

extension Problem {
    /// `type` as a URL (`about:blank` or a documentation link).
    public var typeURL: URL? { URL(string: type) }
}
