//
// NullEncodable+Decoding.swift
//
// DO NOT EDIT. Copied by `make generate` (tools/gen_swift.py); edit the source.
// Source: tools/swift-support/NullEncodable+Decoding.swift (hand-written, not generated)
//
import Foundation

// Hand-written (not generated): `make generate` copies this file into the package.
// A three-way update field (`x-null-encodable` in the spec) is `NullEncodable<T>`:
// `.encodeNothing` = leave unchanged (key absent), `.encodeNull` = clear (`null`),
// `.encodeValue(v)` = set. The generator writes the encoding; decoding is left to the synthesized
// `Decodable`, which would throw on an absent key (NullEncodable is not Optional) and whose
// stock `NullEncodable.init(from:)` turns a wrong-typed value into `.encodeNull`. This overload
// (preferred by the synthesized code) reads all three states and lets type errors throw.
// One overload per wrapped type the spec uses: a generic one is as specific as the standard
// `decode(_:forKey:)` for the compiler (ambiguous), a concrete one wins.
extension KeyedDecodingContainer {
    public func decode(
        _ type: NullEncodable<Int>.Type, forKey key: Key
    ) throws -> NullEncodable<Int> {
        try decodeNullEncodable(forKey: key)
    }

    func decodeNullEncodable<T: Decodable>(forKey key: Key) throws -> NullEncodable<T> {
        guard contains(key) else { return .encodeNothing }
        if try decodeNil(forKey: key) { return .encodeNull }
        return .encodeValue(try decode(T.self, forKey: key))
    }
}
