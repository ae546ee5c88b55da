namespace ModelGen.Generator.Ops;

internal static partial class OpCalls
{
    static partial void Normalization()
    {
        Call("Silu", c => c.Op("Silu", c.T(0)));
        // The slope is a constant operand: fused loops hoist it as a literal.
        Call("LeakyRelu", c => c.Op("LeakyRelu", c.T(0), c.Builder.Const(c.Number(1))));
    }
}
