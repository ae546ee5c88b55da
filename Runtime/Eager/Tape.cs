namespace ModelGen;

// CONTRACT STUB (owner: eager helper): the tape and Backward.
public sealed partial class Tensor
{
    /// <summary>Back-propagates from this scalar through the recorded tape, accumulating into every <c>Grad</c>.</summary>
    public void Backward() => throw new System.NotImplementedException();
}
