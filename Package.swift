// swift-tools-version:6.0
// The repository's own manifest, so that an app adds QueueITAPI by this repository's git URL:
//   .package(url: "https://…/REPOSITORY.git", from: "1.0.0")
//   .product(name: "QueueITAPI", package: "REPOSITORY")   // SwiftPM names a URL package after it
// It builds the generated package's sources in place (generated/QueueITAPI, which an app can
// also add by path). tests/spec/test_swiftpm_adoption.py keeps this manifest equal to the
// generated one, but for the path.

import PackageDescription

let package = Package(
    name: "QueueITAPI",
    platforms: [
        .iOS(.v13),
        .macOS(.v10_15),
        .tvOS(.v13),
        .watchOS(.v6),
    ],
    products: [
        .library(name: "QueueITAPI", targets: ["QueueITAPI"]),
    ],
    targets: [
        .target(name: "QueueITAPI", path: "generated/QueueITAPI/Sources/QueueITAPI"),
    ],
    swiftLanguageModes: [.v6]
)
