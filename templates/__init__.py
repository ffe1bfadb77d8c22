"""Pure builders: spec -> CloudFormation templates and Azure resource bodies."""
