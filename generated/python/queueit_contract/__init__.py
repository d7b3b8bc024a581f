"""QueueIT wire models generated from openapi/queueit.yaml. DO NOT EDIT."""

SPEC_VERSION = "1.0.0"
