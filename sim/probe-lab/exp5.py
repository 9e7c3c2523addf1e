import json, numpy as np, sys
sys.path.insert(0,'sim/probe-lab')
from sim import *
from exp2 import policy_next_scores
from exp4 import sessions
data=json.load(open('sim/probe-lab/perL-101.json'))
def make_restricted(M, lams=(0.25,0.5,0.75), accs=(3,15,40.), sig_rel=0.1, sig_abs=5, self_too=False):
    def nxt(D, probed, r, lost=()):
        n=len(D); b=policy_next_scores(D,probed,r)
        for a in list(probed)+list(lost): b[a]=np.inf
        order=[int(j) for j in np.argsort(b) if np.isfinite(b[j])]
        short=order[:M]
        pool=sorted(set(short)|set(probed))   # pseudo-client anchors: shortlisted + probed nodes
        X=[]
        for i1,m1 in enumerate(pool):
            for m2 in pool[i1+1:]:
                for lam in lams:
                    x=lam*D[m1]+(1-lam)*D[m2]; x=x.copy(); x[m1]=(1-lam)*D[m1][m2]; x[m2]=lam*D[m1][m2]
                    for a in accs: X.append(x+a)
            if self_too:
                for a in accs:
                    x=D[m1]+a; x=x.copy(); x[m1]=a; X.append(x)
        X=np.array(X)
        X=np.where(np.isnan(X),np.inf,X)
        ll=np.zeros(len(X))
        for a,ra in zip(probed,r):
            z=(X[:,a]-ra)/(sig_rel*ra+sig_abs); ll+=-np.log1p(z*z)
        w=np.exp(ll-ll.max())
        best=np.min(X,axis=1)
        cur=np.min(X[:,probed],axis=1)
        sc={}
        for j in short:
            g=np.minimum(cur,X[:,j]); okk=(g<=best*1.1)|(g<=best+5); sc[j]=np.sum(w*okk)
        if not sc: return order[0] if order else [j for j in range(n) if j not in probed and j not in lost][0]
        return max(sc,key=sc.get)
    return nxt
def hybrid(nxt_post):
    def f(D, probed, r, lost=()):
        return nxt_post(D,probed,r,lost) if len(probed)>=3 else policy_next(D,probed,r,lost)
    return f
pols={'R8':make_restricted(8),'R6':make_restricted(6),'R8self':make_restricted(8,self_too=True),'R8s25':make_restricted(8,sig_rel=0.25,sig_abs=10),'R12':make_restricted(12)}
for ds, rows in data.items():
    for name,p in pols.items():
        res=[]
        for r in rows:
            D,T=load(r)
            for t in T: res.append(sessions(D,t,r['curL'],p))
        print(ds,name,np.round(100*np.mean(res,axis=0),1),flush=True)
