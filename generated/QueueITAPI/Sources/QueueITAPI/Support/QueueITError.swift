//
// QueueITError.swift
//
// DO NOT EDIT. Copied by `make generate` (tools/gen_swift.py); edit the source.
// Source: tools/swift-support/QueueITError.swift (hand-written, not generated)
//
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// Hand-written (not generated): `make generate` copies this file into the package.
// The generated client reports every failure as `ErrorResponse.error(Int, Data?, URLResponse?,
// Error)`: the problem+json body as raw Data, cancellation as status -3, a request it could not
// build as 415. `QueueITClient` maps answers and failures to this one type instead.

/// Why a `QueueITClient` call failed. (A cancelled task throws `CancellationError`, unchanged.)
public enum QueueITError: Error, Sendable {
    /// The server answered with a non-2xx status.
    case server(QueueITServerError)
    /// No answer: the connection failed, timed out, TLS, offline... (`URLError` usually).
    case transport(any Error)
    /// A 2xx answer whose body is not what the contract says (a bug on one side).
    case undecodable(status: Int, body: Data, underlying: any Error)
    /// The request could not be made (an invalid URL, the token provider failed).
    case invalidRequest(String)

    /// The server's answer, when there was one.
    public var serverError: QueueITServerError? {
        if case let .server(error) = self { return error }
        return nil
    }
}

/// A non-2xx answer: status, the decoded problem+json and the headers that matter.
public struct QueueITServerError: Error, Sendable {
    public let status: Int
    /// The RFC 9457 body (nil only when the body is not a problem, e.g. a proxy's HTML page).
    public let problem: Problem?
    /// Seconds to wait before retrying (`Retry-After`, as seconds or an HTTP date), if sent.
    public let retryAfter: TimeInterval?
    /// Response headers, keys lowercased.
    public let headers: [String: String]
    public let body: Data

    public var code: ProblemCode? { problem?.code }
    /// What to quote in a bug report: the problem's `request_id`, else `X-Request-ID`.
    public var requestId: String? { problem?.requestId ?? headers["x-request-id"] }

    public init(status: Int, headers: [String: String], body: Data, decoder: JSONDecoder) {
        self.status = status
        self.headers = headers
        self.body = body
        self.problem = try? decoder.decode(Problem.self, from: body)
        self.retryAfter = headers["retry-after"].flatMap { QueueITServerError.parseRetryAfter($0) }
    }

    /// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` (RFC 9110 §10.2.3).
    public static func parseRetryAfter(_ value: String, now: Date = Date()) -> TimeInterval? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return TimeInterval(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }
}

// MARK: - Messages for people

extension QueueITServerError: LocalizedError {
    /// What to show a person: the contract's message for the problem's code
    /// (`ProblemCode.message`, from the spec's `x-messages`); for a code or an answer this
    /// version does not know, the message of the nearest code the HTTP status implies.
    public var message: String {
        if let text = code?.message { return text }
        let nearest: ProblemCode
        switch status {
        case 401: nearest = .unauthorized
        case 403: nearest = .forbidden
        case 404: nearest = .notFound
        case 409: nearest = .conflict
        case 413: nearest = .payloadTooLarge
        case 429: nearest = .rateLimited
        case 503: nearest = .serviceUnavailable
        case 500...: nearest = .internalError
        default: nearest = .badRequest
        }
        return nearest.message ?? "Something went wrong (\(status))."
    }

    public var errorDescription: String? { message }
}

extension QueueITError: LocalizedError {
    public var errorDescription: String? {
        switch self {
        case .server(let error):
            return error.message
        case .transport:
            return "No connection to the party server. Check the network and try again."
        case .undecodable:
            return "The party server's answer could not be read. Update the app."
        case .invalidRequest:
            return "The app could not make this request. Sign in again, or try again."
        }
    }
}
