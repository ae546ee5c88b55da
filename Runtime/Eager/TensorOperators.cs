using System;

namespace ModelGen;

public sealed partial class Tensor
{
    /// <summary>A rank-0 tensor holding <paramref name="value"/> (does not require a gradient).</summary>
    public static Tensor Scalar(float value) => new(new[] { value }, Array.Empty<int>());

    /// <summary>a + b, elementwise with numpy broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Ops.Binary(Ops.BinaryOp.Add, a, b);
    /// <summary>a - b, elementwise with numpy broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Binary(Ops.BinaryOp.Subtract, a, b);
    /// <summary>a * b, elementwise with numpy broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Binary(Ops.BinaryOp.Multiply, a, b);
    /// <summary>a / b, elementwise with numpy broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Binary(Ops.BinaryOp.Divide, a, b);

    /// <summary>a + b for every element of a.</summary>
    public static Tensor operator +(Tensor a, float b) => Ops.Binary(Ops.BinaryOp.Add, a, Scalar(b));
    /// <summary>a - b for every element of a.</summary>
    public static Tensor operator -(Tensor a, float b) => Ops.Binary(Ops.BinaryOp.Subtract, a, Scalar(b));
    /// <summary>a * b for every element of a.</summary>
    public static Tensor operator *(Tensor a, float b) => Ops.Binary(Ops.BinaryOp.Multiply, a, Scalar(b));
    /// <summary>a / b for every element of a.</summary>
    public static Tensor operator /(Tensor a, float b) => Ops.Binary(Ops.BinaryOp.Divide, a, Scalar(b));

    /// <summary>a + b for every element of b.</summary>
    public static Tensor operator +(float a, Tensor b) => Ops.Binary(Ops.BinaryOp.Add, Scalar(a), b);
    /// <summary>a - b for every element of b.</summary>
    public static Tensor operator -(float a, Tensor b) => Ops.Binary(Ops.BinaryOp.Subtract, Scalar(a), b);
    /// <summary>a * b for every element of b.</summary>
    public static Tensor operator *(float a, Tensor b) => Ops.Binary(Ops.BinaryOp.Multiply, Scalar(a), b);
    /// <summary>a / b for every element of b.</summary>
    public static Tensor operator /(float a, Tensor b) => Ops.Binary(Ops.BinaryOp.Divide, Scalar(a), b);

    // The same with a double scalar, as PyTorch users write it (x * 0.5): the value is rounded to float once.
    /// <summary>a + b for every element of a (b rounded to float).</summary>
    public static Tensor operator +(Tensor a, double b) => a + (float)b;
    /// <summary>a - b for every element of a (b rounded to float).</summary>
    public static Tensor operator -(Tensor a, double b) => a - (float)b;
    /// <summary>a * b for every element of a (b rounded to float).</summary>
    public static Tensor operator *(Tensor a, double b) => a * (float)b;
    /// <summary>a / b for every element of a (b rounded to float).</summary>
    public static Tensor operator /(Tensor a, double b) => a / (float)b;
    /// <summary>a + b for every element of b (a rounded to float).</summary>
    public static Tensor operator +(double a, Tensor b) => (float)a + b;
    /// <summary>a - b for every element of b (a rounded to float).</summary>
    public static Tensor operator -(double a, Tensor b) => (float)a - b;
    /// <summary>a * b for every element of b (a rounded to float).</summary>
    public static Tensor operator *(double a, Tensor b) => (float)a * b;
    /// <summary>a / b for every element of b (a rounded to float).</summary>
    public static Tensor operator /(double a, Tensor b) => (float)a / b;

    /// <summary>-x, elementwise.</summary>
    public static Tensor operator -(Tensor x) => Ops.Negate(x);
}
