using ModelGen.Generator.Model;

namespace ModelGen.Generator.Ops;

/// <summary>What an expression of a forward body evaluates to while it is lowered.</summary>
internal abstract record Value;

/// <summary>A tensor: a graph node.</summary>
internal sealed record TensorValue(int Node) : Value;

/// <summary>A number known at build time (a literal, a constant, a loop variable).</summary>
internal sealed record NumberValue(double Number) : Value;

/// <summary>A layer or module instance.</summary>
internal sealed record InstanceValue(InstanceSpec Instance) : Value;

/// <summary>An array of layers or modules.</summary>
internal sealed record ArrayValue(FieldSpec Field) : Value;

/// <summary>The class labels of a loss.</summary>
internal sealed record LabelsValue(int Node) : Value;
