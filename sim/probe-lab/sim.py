import json, numpy as np, sys
BW=1.5
def policy_next(D, probed, r, excl=()):
    n=len(D); on=np.full(n,-np.inf); be=np.full(n,-np.inf); hi=np.full(n,np.inf)
    for a,ra in zip(probed,r):
        d=D[a]; m=~np.isnan(d)
        on[m]=np.maximum(on[m], ra-d[m]); be[m]=np.maximum(be[m], d[m]-ra); hi[m]=np.minimum(hi[m], ra+d[m])
    sc=np.minimum(np.maximum(on,0)+BW*np.maximum(be,0), hi)
    for a in probed: sc[a]=np.inf
    for a in excl: sc[a]=np.inf
    return int(np.argmin(sc))
def load(r):
    D=np.array(r['D'],float); E=np.array(r['E'],float); D=np.where(np.isnan(D),E,D); np.fill_diagonal(D,np.nan)
    return D, np.array(r['T'],float)
def run_client(D, t, L, pings=3, nxt=policy_next):
    probed=[]; r=[]; lost=[]; j=L
    for p in range(pings):
        if p>0: j=nxt(D, probed, r, lost)
        if np.isnan(t[j]): lost.append(j)
        else: probed.append(j); r.append(t[j])
    return probed
def ok(t, probed):
    best=np.nanmin(t); g=min([t[j] for j in probed] or [np.inf])
    return g<=best*1.1 or g<=best+5
def cover(D, T, L, nxt=policy_next):
    return np.mean([ok(t, run_client(D,t,L,nxt=nxt)) for t in T])
if __name__=='__main__':
    data=json.load(open(sys.argv[1]))
    for ds, rows in data.items():
        a=[];b=[];c=[]
        for r in rows:
            D,T=load(r)
            a.append(100*cover(D,T,r['curL'])); b.append(r['cur'])
            c.append(max(100*cover(D,T,L) for L in range(len(D))))
        print(ds, 'py cur', np.mean(a), 'js cur', np.mean(b), 'py ceil', np.mean(c))
